/*
 * main.c - the ipcbench program; everything else is in the harness library
 * so the unit tests link the same code.
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return ipcb_cli_main(argc, argv);
}
