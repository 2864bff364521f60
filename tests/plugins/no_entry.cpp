// A shared library that is not a plugin: it lacks the entry point.
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 42; }
