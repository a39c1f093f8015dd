// bnx: the command-line program (see command.h and the README for the subcommands).
#include "train/cli/command.h"

int main(int argc, char** argv) { return bnx::cli::run(argc, argv); }
