// A real program that is a server: started under the preload, asked until it answers, driven by
// its client (whose wall time is the cell's), queried by its after-command, then stopped.
#pragma once

#include "harness/driver/external_run.hpp"

namespace allocproof::driver {

// Runs the server `request` of `setup` through its lifecycle; the server's rusage is the run's
// (`end`), the client's wall time its `wall_seconds`, the client's output what the checks read.
measured_run run_server(const repetition_setup& setup, const child_request& request);

}  // namespace allocproof::driver
