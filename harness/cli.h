/*
 * cli.h - the `ipcbench` command line: subcommands, their help and options.
 */
#ifndef IPCB_CLI_H
#define IPCB_CLI_H

/* Runs `ipcbench argv...`; returns the exit status (2 = bad usage). */
int ipcb_cli_main(int argc, char **argv);

#endif
