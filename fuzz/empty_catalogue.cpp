// The fuzz targets' build catalogue: empty, as if the cell program described a build with no
// workload or strategy, so the parsers treat every name as unknown instead of starting a cell
// program on every input (the driver's own is harness/driver/loaded_catalogue.cpp).
#include "harness/driver/matrix_catalogue.hpp"

namespace allocproof::driver {

const matrix_catalogue& catalogue() {
    static const matrix_catalogue none;
    return none;
}

}  // namespace allocproof::driver
