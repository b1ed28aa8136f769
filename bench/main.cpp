// wsvis_bench: every kernel benchmark of the project in one binary (see bench/README.md).
#include "bench/harness.h"

int main(int argc, char** argv) { return wsvis::bench::run_main(argc, argv); }
