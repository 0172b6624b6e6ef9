/* SPDX-License-Identifier: MIT */
/*
 * test_lookup.c - the shim's own next-symbol lookup (shim/lookup.c) must
 * return what dlsym(RTLD_NEXT) returns, for every name the shim resolves
 * (read from shim/init.c, so the list cannot drift) and for the cases the
 * loader's rules single out: several versions of a name, an IFUNC, data
 * objects, a name nobody defines.  This program stands in for the shim:
 * the objects after it (libcmocka, libc, ...) are searched from here by
 * both lookups.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static struct shim_next nx;

static int
setup(void **state)
{
	(void)state;
	shim_next_init(&nx, (const void *)&setup);
	return 0;
}

static void
test_usable(void **state)
{
	(void)state;
	assert_true(nx.usable);
	assert_true(nx.count >= 2);	/* libcmocka and libc at least */
}

/* Every quoted name on a resolving line of shim/init.c. */
static void
test_every_shim_name(void **state)
{
	(void)state;
	const char *src = getenv("AUDITSHIM_SRC");
	char path[4096], line[512];
	unsigned names = 0, fast = 0;

	assert_non_null(src);
	snprintf(path, sizeof path, "%s/shim/init.c", src);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "\tR(") != line && !strstr(line, "next_vsym(\""))
			continue;
		char *q = strchr(line, '"');
		char *e = q ? strchr(q + 1, '"') : NULL;
		if (!e)
			continue;
		*e = '\0';
		const char *name = q + 1;
		void *mine = shim_next_sym(&nx, name);
		void *ref = dlsym(RTLD_NEXT, name);
		names++;
		if (mine != NULL) {
			fast++;
			if (mine != ref)
				fail_msg("%s: lookup %p, dlsym %p", name, mine, ref);
		}
	}
	fclose(f);
	assert_true(names >= 90);
	/* Nothing the shim hooks is an IFUNC: all of it comes the fast way. */
	assert_int_equal(fast, names);
}

static void
same_as_dlsym(const char *name)
{
	void *mine = shim_next_sym(&nx, name);
	assert_non_null(mine);
	assert_ptr_equal(mine, dlsym(RTLD_NEXT, name));
}

static void
test_versions_and_objects(void **state)
{
	(void)state;
	/* Two versions in glibc each: the default ('@@') one is taken. */
	same_as_dlsym("realpath");
	same_as_dlsym("pthread_cond_wait");
	same_as_dlsym("posix_spawn");
	/* Data, not code. */
	same_as_dlsym("environ");
	same_as_dlsym("stdout");
}

static void
test_left_to_dlsym(void **state)
{
	(void)state;
	/*
	 * An IFUNC: its resolver must run, which only dlsym does.  Under
	 * AddressSanitizer the runtime's own memcpy comes first, and it is
	 * an ordinary function.
	 */
	void *mc = shim_next_sym(&nx, "memcpy");
	assert_non_null(dlsym(RTLD_NEXT, "memcpy"));
#if UNDER_ASAN
	if (mc != NULL)
		assert_ptr_equal(mc, dlsym(RTLD_NEXT, "memcpy"));
#else
	assert_null(mc);
#endif
	/* Nobody's. */
	assert_null(shim_next_sym(&nx, "auditshim_no_such_symbol"));
	assert_null(dlsym(RTLD_NEXT, "auditshim_no_such_symbol"));
	/* Defined only in this program, which comes before: not "next". */
	assert_null(shim_next_sym(&nx, "main"));
}

/*
 * The search may stop early (an object without a GNU hash table, or too
 * many objects): whatever a prefix of the objects finds must still be
 * what dlsym finds, and what it does not find is left to dlsym.
 */
static void
test_prefix_finds_first_definition(void **state)
{
	(void)state;
	static const char *names[] = { "open", "realpath", "environ",
				       "_cmocka_run_group_tests", "execve" };
	static struct shim_next part;
	for (unsigned k = 0; k <= nx.count; k++) {
		part = nx;
		part.count = k;
		for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
			void *mine = shim_next_sym(&part, names[i]);
			if (k == 0)
				assert_null(mine);
			else if (mine != NULL)
				assert_ptr_equal(mine, dlsym(RTLD_NEXT, names[i]));
		}
	}
	/* With every object: all of them found. */
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		assert_non_null(shim_next_sym(&nx, names[i]));
}

static void
test_self_not_found(void **state)
{
	(void)state;
	struct shim_next none;
	/* An address in no loaded object: nothing is "after" it. */
	shim_next_init(&none, (const void *)(uintptr_t)1);
	assert_false(none.usable);
	assert_null(shim_next_sym(&none, "open"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_every_shim_name),
		cmocka_unit_test(test_versions_and_objects),
		cmocka_unit_test(test_left_to_dlsym),
		cmocka_unit_test(test_prefix_finds_first_definition),
		cmocka_unit_test(test_self_not_found),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
