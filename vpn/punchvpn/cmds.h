/* punchvpn's subcommands that live outside main.c. */
#ifndef PUNCHVPN_CMDS_H
#define PUNCHVPN_CMDS_H

/* punchvpn submit-outcomes --collector URL PATH... (outcomes.c); argv[0] is the subcommand. */
int cmd_submit_outcomes(int argc, char **argv);

#endif
