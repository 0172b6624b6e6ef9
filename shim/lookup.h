/* SPDX-License-Identifier: MIT */
/*
 * lookup.h - dlsym(RTLD_NEXT, name) without dlsym: see lookup.c.
 * No allocation; the tables are read from the loaded objects in place.
 */
#ifndef AUDITSHIM_LOOKUP_H
#define AUDITSHIM_LOOKUP_H

#include <link.h>
#include <stdint.h>

/*
 * Most objects after ours that are searched (a name not found in them
 * goes to dlsym).  Kept small: this lives on the stack of whichever hook
 * happens to initialise the library.
 */
#define SHIM_NEXT_OBJS 16

/* One object's GNU hash table and what its entries point into. */
struct shim_next_obj {
	uintptr_t base;			/* load bias */
	const ElfW(Sym) *symtab;
	const char *strtab;
	const ElfW(Half) *versym;	/* NULL: no symbol versions */
	uint32_t nbuckets, symoffset, bloom_size, bloom_shift;
	const ElfW(Addr) *bloom;
	const uint32_t *buckets;
	const uint32_t *chain;
};

struct shim_next {
	int usable;			/* 0: our own object not found: ask dlsym */
	const char *self_name;		/* the loader's name for SELF's object, or NULL */
	unsigned count;
	struct shim_next_obj obj[SHIM_NEXT_OBJS];
};

/*
 * Collects the objects loaded after the one that contains SELF (an
 * address in it).  Takes the loader's lock (dl_iterate_phdr): start-up
 * only, never on a hook path.
 */
void shim_next_init(struct shim_next *n, const void *self);
/*
 * The next definition of NAME after SELF's object, as dlsym(RTLD_NEXT)
 * would return it; NULL when not found or not certain (then ask dlsym).
 */
void *shim_next_sym(const struct shim_next *n, const char *name);

#endif /* AUDITSHIM_LOOKUP_H */
