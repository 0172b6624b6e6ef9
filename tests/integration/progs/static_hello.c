/* SPDX-License-Identifier: MIT */
/* static_hello.c - linked -static: the shim cannot load into it, so the
 * exec that starts it must be preceded by a blind_spot record. */
#include <unistd.h>

int
main(void)
{
	static const char msg[] = "hello from a static binary\n";
	return write(1, msg, sizeof msg - 1) == sizeof msg - 1 ? 0 : 1;
}
