/* SPDX-License-Identifier: MIT */
/*
 * verify.h - the one chain verifier.  auditctl verify walks the whole
 * chain with it; auditshimd walks its tail with it before it appends.
 * Library code: fills a struct db_verify, never prints.
 */
#ifndef AUDITSHIM_VERIFY_H
#define AUDITSHIM_VERIFY_H

#include <stdint.h>

#include <sqlite3.h>

#include "chain.h"
#include "db.h"

/* The only key epoch a key is known for (docs/record-format.md). */
#define VERIFY_KEY_EPOCH 1

/*
 * Verifies the records with seq >= FROM (FROM >= 1) to the end, in one
 * pass with constant memory: seq continuity; every column stored the way
 * the writer stores it (so an edit cannot keep the canonical bytes by
 * changing a type); each entry's hash over its own stored prev_hash; the
 * link to the previous entry (for FROM > 1, to the stored hash of FROM-1,
 * which is trusted, not re-verified); the MAC when C holds a key; and, when
 * HEAD is not NULL and names an entry in the range, that entry's hash and
 * MAC against the head.  Whether the chain reaches HEAD->seq at all is the
 * caller's question (V->last_seq answers it).
 * Returns 0 when everything verified, 1 when an entry is bad (V->bad_seq
 * and V->reason name the first one), -ENOMEM, or -EIO for a database or
 * OpenSSL error (sqlite3_errmsg(DB) says more for the former).  No other
 * thread may use DB or C meanwhile (column values are read unprotected).
 */
int verify_chain(sqlite3 *db, struct chain_ctx *c, int64_t from,
		 const struct db_head *head, struct db_verify *v);

/*
 * verify_chain for the entries FROM..TO only (TO = INT64_MAX: to the
 * end).  A hole inside the range is reported even when it reaches TO (the
 * row after it names it); a table that ends before TO is not an error
 * (V->last_seq says where it ended).  Returns as verify_chain.
 */
int verify_range(sqlite3 *db, struct chain_ctx *c, int64_t from, int64_t to,
		 const struct db_head *head, struct db_verify *v);

/*
 * verify_range over FROM..TO (TO finite) split into N contiguous parts
 * verified at the same time, part i by its own thread on DBS[i] with
 * CS[i]: N connections to the same store and N contexts holding the same
 * key (or none), each used by that thread only.  Every part after the
 * first is anchored on the stored hash of the entry before it, which the
 * part before it verifies, so the outcome -- return value, first bad
 * entry, reason, last_seq, checked -- is the one a single pass would
 * give.  Entries up to TO must not change while it runs (the store is
 * append-only; the connections may hold different snapshots as long as
 * each holds entry TO).  N = 1 is verify_range on DBS[0].  Returns as
 * verify_chain.
 */
int verify_parallel(sqlite3 *const *dbs, struct chain_ctx *const *cs, int n,
		    int64_t from, int64_t to, const struct db_head *head,
		    struct db_verify *v);

#endif
