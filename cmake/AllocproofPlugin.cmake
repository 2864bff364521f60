# allocproof_add_plugin(<name> <source>...)
#
# A strategy plugin: lib<name>.so, loaded with `allocproof run --plugin path/to/lib<name>.so`.
# Its sources include <allocproof/plugin.hpp> and end with ALLOCPROOF_PLUGIN(...). It links
# against nothing: the cell program that loads it provides the registry and the probes.
function(allocproof_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE allocproof::plugin)
  # Only the entry point is exported; the plugin's instantiations of inline code stay its own.
  set_target_properties(${name} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  # A plugin's cells are measured beside built-in ones compiled -O3: an unoptimised plugin would
  # lose for that reason alone.
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    message(STATUS "allocproof plugin ${name}: no CMAKE_BUILD_TYPE, compiling it -O3 like allocproof's own strategies")
    target_compile_options(${name} PRIVATE -O3)
    target_compile_definitions(${name} PRIVATE NDEBUG)
  endif()
endfunction()
