/* SPDX-License-Identifier: MIT */
/*
 * reload.c - auditshimd's configuration on SIGHUP: the new file is read,
 * compiled and its alert sinks opened beside the running configuration,
 * and only when all of that succeeded is it swapped in, between two
 * records; otherwise the running one stays whole.  Either way a
 * writer_reload record goes into the chain.  docs/writer.md ("Reload").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditshim_config.h"
#include "json.h"
#include "log.h"
#include "peers.h"
#include "writer.h"

char *
writer_abspath(const struct writer *w, const char *path)
{
	char *p;

	if (path[0] == '/' || !w->start_cwd)
		return strdup(path);
	p = malloc(strlen(w->start_cwd) + strlen(path) + 2);
	if (p)
		sprintf(p, "%s/%s", w->start_cwd, path);
	return p;
}

/* Replaces *PATH (owned) with its absolute form; false on ENOMEM. */
static bool
absolutize(const struct writer *w, char **path)
{
	char *p = writer_abspath(w, *path);

	if (!p)
		return false;
	free(*path);
	*path = p;
	return true;
}

int
writer_settings(const struct writer *w, struct conf *c, char *err,
		size_t errlen)
{
	if ((w->opt_socket && conf_set(&c->socket, w->opt_socket) < 0) ||
	    (w->opt_db && conf_set(&c->database, w->opt_db) < 0) ||
	    (w->opt_key && conf_set(&c->key, w->opt_key) < 0) ||
	    !absolutize(w, &c->socket) || !absolutize(w, &c->database) ||
	    !absolutize(w, &c->key)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* Seals the writer_reload record: RESULT "applied" or "refused". */
static void
record_reload(struct writer *w, const char *file, const char *result,
	      const char *error)
{
	struct jbuf d = { 0 };

	jbuf_adds(&d, "{\"config\":");
	jbuf_strz(&d, file);
	jbuf_adds(&d, ",\"result\":");
	jbuf_strz(&d, result);
	if (error) {
		jbuf_adds(&d, ",\"error\":");
		jbuf_strz(&d, error);
	} else {
		jbuf_printf(&d, ",\"classification_rules\":%zu,\"policies\":%zu,"
			    "\"redaction_patterns\":%zu",
			    rules_count_classify(w->conf.rules),
			    rules_count_policy(w->conf.rules),
			    rules_count_redact(w->conf.rules));
	}
	jbuf_adds(&d, "}");
	if (d.oom || ingest_lifecycle(w, "writer_reload", jbuf_text(&d)) < 0)
		log_crit("cannot seal the writer_reload record");
	jbuf_free(&d);
}

int
writer_reload(struct writer *w)
{
	struct conf nc;
	struct alert_sinks *sinks = NULL;
	char err[512];
	const char *file = w->config_file;
	int rc;

	err[0] = '\0';
	/* Started without a file: the default one, if it exists now. */
	if (!file && access(AUDITSHIM_DEFAULT_CONFIG, F_OK) == 0)
		file = AUDITSHIM_DEFAULT_CONFIG;
	log_info("SIGHUP: reloading the configuration from %s",
		 file ? file : CONF_DEFAULT_NAME);
	if ((rc = conf_defaults(&nc)) < 0) {
		snprintf(err, sizeof err, "out of memory");
		goto refuse;
	}
	if ((file && (rc = conf_load(&nc, file, err, sizeof err)) < 0) ||
	    (rc = conf_finish(&nc, err, sizeof err)) < 0 ||
	    (rc = writer_settings(w, &nc, err, sizeof err)) < 0)
		goto refuse_free;
	const char *changed = conf_writer_diff(&w->conf, &nc);
	if (changed) {
		snprintf(err, sizeof err, "%s: [writer] %s changed: a reload "
			 "cannot apply it (restart the writer)", file ? file :
			 CONF_DEFAULT_NAME, changed);
		rc = -EINVAL;
		goto refuse_free;
	}
	sinks = alerts_prepare(&nc, w->alert_file, err, sizeof err);
	if (!sinks) {
		rc = -EINVAL;
		goto refuse_free;
	}
	/* The last step that can fail; from here on nothing can. */
	if ((rc = peers_set_limits(w->peers, rules_resolved_cache(nc.rules),
				   rules_resolved_ttl_ms(nc.rules))) < 0) {
		snprintf(err, sizeof err, "out of memory resizing the "
			 "resolved-address cache");
		alerts_discard(sinks);
		goto refuse_free;
	}
	alerts_apply(w->alerts, sinks, &nc);
	struct conf old = w->conf;
	w->conf = nc;
	conf_free(&old);
	log_info("configuration reloaded from %s: %zu classification rules, "
		 "%zu policies, %zu redaction patterns",
		 file ? file : CONF_DEFAULT_NAME,
		 rules_count_classify(w->conf.rules),
		 rules_count_policy(w->conf.rules),
		 rules_count_redact(w->conf.rules));
	record_reload(w, file, "applied", NULL);
	return 0;
refuse_free:
	conf_free(&nc);
refuse:
	log_warnx("%s; reload refused: the running configuration stays in force",
		  err);
	record_reload(w, file, "refused", err);
	return rc;
}
