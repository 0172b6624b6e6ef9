/* SPDX-License-Identifier: MIT */
/*
 * lookup.c - the next definition of a function, as dlsym(RTLD_NEXT, name)
 * finds it, read straight from the GNU hash tables of the objects loaded
 * after this one.
 *
 * Why: the shim resolves ~90 names in every process it starts, and each
 * dlsym call finds its caller's object, takes the loader's lock, sets up
 * error handling and walks the search scope from its start.  Measured on
 * a fork+exec loop, those calls were a third of the CPU the shim added to
 * a process start.  Here one pass over the loaded objects (at start-up,
 * where locks are fine) collects their tables, and a name costs a hash,
 * a Bloom filter test per object and a string compare.
 *
 * The same rules as glibc's lookup for dlsym: objects after ours in
 * load order (which is the global search order of a program's initial
 * objects; the vDSO is not in it), definitions only (not undefined, not
 * local, of a code or data type), and of several versions of a name the
 * one that is not hidden (the '@@' default).  Whatever this does not
 * handle gives NULL, and the caller asks dlsym: an object without a GNU
 * hash table and any after it, an IFUNC (its resolver must run), a name
 * not found (a dlopen()ed shim, whose scope is its own).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* dl_iterate_phdr */
#endif
#include "lookup.h"

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

/* st_info's halves: the same in both ELF classes. */
#define SYM_TYPE(info) ((unsigned)(info) & 0xf)
#define SYM_BIND(info) ((unsigned)(info) >> 4)

struct walk {
	struct shim_next *n;
	uintptr_t self;		/* an address inside the calling object */
	uintptr_t vdso;		/* the vDSO's base, not in the search scope */
	int after;		/* the calling object was passed */
};

/* An address from the dynamic section: relocated in place by glibc, or not. */
static uintptr_t
dyn_addr(uintptr_t base, ElfW(Addr) p)
{
	return p < base ? base + p : p;
}

static int
contains(const struct dl_phdr_info *info, uintptr_t a)
{
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && a >= lo && a - lo < ph->p_memsz)
			return 1;
	}
	return 0;
}

/* Fills O from INFO's dynamic section.  Returns 0, or -1 if unusable. */
static int
object_tables(struct shim_next_obj *o, const struct dl_phdr_info *info)
{
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t base = info->dlpi_addr;

	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(base +
						  info->dlpi_phdr[i].p_vaddr);
	if (dyn == NULL)
		return -1;
	memset(o, 0, sizeof *o);
	o->base = base;
	const uint32_t *gnu = NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_GNU_HASH:
			gnu = (const uint32_t *)dyn_addr(base, dyn->d_un.d_ptr);
			break;
		case DT_SYMTAB:
			o->symtab = (const ElfW(Sym) *)dyn_addr(base,
								dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			o->strtab = (const char *)dyn_addr(base, dyn->d_un.d_ptr);
			break;
		case DT_VERSYM:
			o->versym = (const ElfW(Half) *)dyn_addr(base,
								 dyn->d_un.d_ptr);
			break;
		default:
			break;
		}
	}
	if (gnu == NULL || o->symtab == NULL || o->strtab == NULL)
		return -1;
	o->nbuckets = gnu[0];
	o->symoffset = gnu[1];
	o->bloom_size = gnu[2];
	o->bloom_shift = gnu[3];
	if (o->nbuckets == 0 || o->bloom_size == 0 ||
	    (o->bloom_size & (o->bloom_size - 1)) != 0)
		return -1;
	o->bloom = (const ElfW(Addr) *)(gnu + 4);
	o->buckets = (const uint32_t *)(o->bloom + o->bloom_size);
	o->chain = o->buckets + o->nbuckets;
	return 0;
}

static int
collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	struct shim_next *n = w->n;
	(void)size;

	if (!w->after) {
		if (contains(info, w->self)) {
			w->after = 1;
			n->self_name = info->dlpi_name;
		}
		return 0;
	}
	if (w->vdso != 0 && info->dlpi_addr == w->vdso)
		return 0;
	/*
	 * The search stops before an object it cannot read (or past the
	 * last it has room for): a name found before it is still the first
	 * definition, and one not found is left to dlsym.
	 */
	if (n->count == SHIM_NEXT_OBJS ||
	    object_tables(&n->obj[n->count], info) != 0)
		return 1;
	n->count++;
	return 0;
}

void
shim_next_init(struct shim_next *n, const void *self)
{
	struct walk w = {
		.n = n,
		.self = (uintptr_t)self,
		.vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR),
	};
	n->count = 0;
	n->usable = 1;
	n->self_name = NULL;
	dl_iterate_phdr(collect, &w);
	if (!w.after)
		n->usable = 0;
}

static uint32_t
gnu_hash(const char *s)
{
	uint32_t h = 5381;
	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

#define ALLOWED_TYPES                                                   \
	((1u << STT_NOTYPE) | (1u << STT_OBJECT) | (1u << STT_FUNC) |   \
	 (1u << STT_COMMON) | (1u << STT_GNU_IFUNC))

/* NAME (hash H) in O: the symbol dlsym would take from it, or NULL. */
static const ElfW(Sym) *
object_lookup(const struct shim_next_obj *o, const char *name, uint32_t h)
{
	const unsigned bits = sizeof(ElfW(Addr)) * 8;
	ElfW(Addr) word = o->bloom[(h / bits) & (o->bloom_size - 1)];
	ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) |
			  ((ElfW(Addr))1 << ((h >> o->bloom_shift) % bits));
	if ((word & mask) != mask)
		return NULL;
	uint32_t i = o->buckets[h % o->nbuckets];
	if (i < o->symoffset)
		return NULL;
	const ElfW(Sym) *versioned = NULL;
	unsigned nversioned = 0;
	for (;; i++) {
		uint32_t h2 = o->chain[i - o->symoffset];
		const ElfW(Sym) *s = &o->symtab[i];
		unsigned type = SYM_TYPE(s->st_info);
		unsigned bind = SYM_BIND(s->st_info);
		if ((h | 1) == (h2 | 1) && s->st_shndx != SHN_UNDEF &&
		    (s->st_value != 0 || s->st_shndx == SHN_ABS) &&
		    ((1u << type) & ALLOWED_TYPES) != 0 &&
		    (bind == STB_GLOBAL || bind == STB_WEAK ||
		     bind == STB_GNU_UNIQUE) &&
		    strcmp(o->strtab + s->st_name, name) == 0) {
			if (o->versym == NULL || (o->versym[i] & 0x7fff) < 2)
				return s;	/* unversioned */
			if ((o->versym[i] & 0x8000) == 0 && nversioned++ == 0)
				versioned = s;	/* not hidden: the default */
		}
		if (h2 & 1)
			break;
	}
	return nversioned == 1 ? versioned : NULL;
}

void *
shim_next_sym(const struct shim_next *n, const char *name)
{
	if (!n->usable)
		return NULL;
	uint32_t h = gnu_hash(name);
	for (unsigned k = 0; k < n->count; k++) {
		const struct shim_next_obj *o = &n->obj[k];
		const ElfW(Sym) *s = object_lookup(o, name, h);
		if (s == NULL)
			continue;
		if (SYM_TYPE(s->st_info) == STT_GNU_IFUNC ||
		    s->st_shndx == SHN_ABS)
			return NULL;	/* a resolver to run, or no base: dlsym */
		return (void *)(o->base + s->st_value);
	}
	return NULL;
}
