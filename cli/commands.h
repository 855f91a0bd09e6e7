/* commands.h - the gravrd subcommands. Each takes the arguments after its own
 * name (argv[0] is the subcommand name) and returns the process exit code:
 * 0 success, 1 a result-level failure, 2 bad input or usage. */
#ifndef GRAVRD_CLI_COMMANDS_H
#define GRAVRD_CLI_COMMANDS_H

int cmd_reg(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_segments(int argc, char **argv);
int cmd_balance(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_rd(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_replicate(int argc, char **argv);
int cmd_design(int argc, char **argv);

#endif
