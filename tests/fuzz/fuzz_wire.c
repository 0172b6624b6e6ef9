/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wire.c - libFuzzer target for the writer's wire decoder.  Built as a
 * real fuzzer with -Dfuzzing=true (clang), and always linked with
 * replay.c so the seed corpus runs as an ordinary test.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_msg m;
	if (wire_decode(data, size, &m) == 0) {
		/* Every string the decoder hands out lies inside the input. */
		for (unsigned t = 0; t <= WT__MAX; t++) {
			if (m.s[t].p && (m.s[t].p < (const char *)data ||
			    m.s[t].p + m.s[t].len > (const char *)data + size))
				__builtin_trap();
			if (m.s[t].p && memchr(m.s[t].p, 0, m.s[t].len))
				__builtin_trap();
		}
		for (unsigned i = 0; i < m.nargs; i++)
			if (m.args[i].p + m.args[i].len > (const char *)data + size)
				__builtin_trap();
		if (m.len != size || size > WIRE_MAX_MSG)
			__builtin_trap();
	}
	return 0;
}
