/* SPDX-License-Identifier: MIT */
/*
 * test_conf.c - cmocka tests for the INI configuration: defaults, file
 * values over defaults, and every refusal naming file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auditshim_config.h"
#include "conf.h"

static char path[] = "/tmp/test_conf.XXXXXX";

static int
write_conf(const char *text)
{
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	strcpy(path, "/tmp/test_conf.XXXXXX");
	return 0;
}

/* Loads TEXT over defaults; returns conf_load's code, message in ERR. */
static int
load(const char *text, struct conf *c, char *err, size_t errlen)
{
	assert_int_equal(conf_defaults(c), 0);
	assert_int_equal(write_conf(text), 0);
	return conf_load(c, path, err, errlen);
}

static void
test_defaults(void **state)
{
	(void)state;
	struct conf c;
	assert_int_equal(conf_defaults(&c), 0);
	assert_string_equal(c.socket, AUDITSHIM_DEFAULT_SOCKET);
	assert_string_equal(c.database, AUDITSHIM_DEFAULT_DB);
	assert_string_equal(c.key, AUDITSHIM_DEFAULT_KEY);
	assert_int_equal(c.commit_interval_ms, 10);
	assert_int_equal(c.commit_max, 1000);
	assert_int_equal(c.read_delay_ms, 5);
	assert_null(c.source);
	conf_free(&c);
	conf_free(&c);	/* idempotent */
}

static void
test_values_override_defaults(void **state)
{
	(void)state;
	struct conf c;
	char err[512];
	int rc = load("; comment\n# another\n[writer]\n"
		      "socket = /tmp/s.sock\n"
		      "database=/tmp/d/audit.db\n"
		      "commit_max = 64\n"
		      "read_delay_ms = 0\n", &c, err, sizeof err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.socket, "/tmp/s.sock");
	assert_string_equal(c.database, "/tmp/d/audit.db");
	assert_string_equal(c.key, AUDITSHIM_DEFAULT_KEY);
	assert_int_equal(c.commit_max, 64);
	assert_int_equal(c.read_delay_ms, 0);
	assert_int_equal(c.commit_interval_ms, 10);
	assert_string_equal(c.source, path);
	conf_free(&c);
}

/* Each bad file fails with "PATH:LINE: ..." containing WHAT. */
static void
expect_error(const char *text, int line, const char *what)
{
	struct conf c;
	char err[512], want[600];
	int rc = load(text, &c, err, sizeof err);
	assert_int_equal(rc, -EINVAL);
	snprintf(want, sizeof want, "%s:%d: ", path, line);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got '%s', want prefix '%s'", err, want);
	if (!strstr(err, what))
		fail_msg("got '%s', want it to mention '%s'", err, what);
	conf_free(&c);
	unlink(path);
	strcpy(path, "/tmp/test_conf.XXXXXX");
}

static void
test_disk_full_action(void **state)
{
	(void)state;
	struct conf c;
	char err[512];

	assert_int_equal(load("[writer]\n", &c, err, sizeof err), 0);
	assert_int_equal(c.disk_full_action, DF_HOLD);
	conf_free(&c);
	unlink(path);
	strcpy(path, "/tmp/test_conf.XXXXXX");
	assert_int_equal(load("[writer]\ndisk_full_action = stop\n", &c, err,
			      sizeof err), 0);
	assert_int_equal(c.disk_full_action, DF_STOP);
	conf_free(&c);
	unlink(path);
	strcpy(path, "/tmp/test_conf.XXXXXX");
	/* exec without a command is refused when the configuration is finished */
	assert_int_equal(load("[writer]\ndisk_full_action = exec\n", &c, err,
			      sizeof err), 0);
	assert_int_equal(conf_finish(&c, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "disk_full_command"));
	conf_free(&c);
	unlink(path);
	strcpy(path, "/tmp/test_conf.XXXXXX");
	assert_int_equal(load("[writer]\ndisk_full_action = exec\n"
			      "disk_full_command = true\n", &c, err, sizeof err), 0);
	assert_int_equal(conf_finish(&c, err, sizeof err), 0);
	assert_string_equal(c.disk_full_command, "true");
	conf_free(&c);
}

static void
test_errors_name_line(void **state)
{
	(void)state;
	expect_error("[writer]\nsocket = /a\nbogus = 1\n", 3, "bogus");
	expect_error("[nosuch]\nx = 1\n", 2, "nosuch");
	expect_error("x = 1\n", 1, "outside");
	expect_error("[writer]\n\ncommit_max = ten\n", 3, "commit_max");
	expect_error("[writer]\ncommit_max = 0\n", 2, "commit_max");
	expect_error("[writer]\ncommit_max = 99999999999999999999\n", 2, "commit_max");
	expect_error("[writer]\ncommit_interval_ms = -5\n", 2, "commit_interval_ms");
	expect_error("[writer]\ncommit_max = 5x\n", 2, "commit_max");
	expect_error("[writer]\nread_delay_ms = 1001\n", 2, "read_delay_ms");
	expect_error("[writer]\ndisk_full_action = halt\n", 2, "hold, exec or stop");
	expect_error("[writer]\nsocket = /a\nsocket = /b\n", 3, "duplicate");
	expect_error("[writer]\nsocket =\n", 2, "empty");
	expect_error("[writer]\njust some words\n", 2, "syntax");
	expect_error("[writer\nsocket = /a\n", 1, "");
}

static void
test_missing_file(void **state)
{
	(void)state;
	struct conf c;
	char err[512];
	assert_int_equal(conf_defaults(&c), 0);
	assert_int_equal(conf_load(&c, "/nonexistent/auditshim.ini", err, sizeof err),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/auditshim.ini"));
	/* Defaults survive a failed load. */
	assert_string_equal(c.socket, AUDITSHIM_DEFAULT_SOCKET);
	conf_free(&c);
}

static void
test_long_line(void **state)
{
	(void)state;
	struct conf c;
	char err[512];
	char *text = malloc(5000);
	assert_non_null(text);
	strcpy(text, "[writer]\nsocket = /");
	memset(text + strlen(text), 'a', 3000);
	strcpy(text + strlen("[writer]\nsocket = /") + 3000, "\n");
	assert_int_equal(load(text, &c, err, sizeof err), 0);
	assert_int_equal(strlen(c.socket), 3001);
	conf_free(&c);
	free(text);
}

static void
test_shipped_config_loads(void **state)
{
	(void)state;
	struct conf c;
	char err[512];
	const char *src = getenv("AUDITSHIM_SRC");
	char p[4096];
	snprintf(p, sizeof p, "%s/config/auditshim.ini", src ? src : ".");
	assert_int_equal(conf_defaults(&c), 0);
	int rc = conf_load(&c, p, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	conf_free(&c);
}

/* What a reload compares: the [writer] settings, nothing else. */
static void
test_writer_diff(void **state)
{
	(void)state;
	struct conf a, b;
	char err[512];

	assert_int_equal(conf_defaults(&a), 0);
	assert_int_equal(load("[writer]\ndatabase = /x/audit.db\n"
			      "[alerts]\nrate = 3\n[policy]\nworkspace = /w\n",
			      &b, err, sizeof err), 0);
	assert_string_equal(conf_writer_diff(&a, &b), "database");
	conf_free(&b);
	teardown(NULL);
	assert_int_equal(load("[alerts]\nrate = 3\n[policy]\nworkspace = /w\n",
			      &b, err, sizeof err), 0);
	assert_null(conf_writer_diff(&a, &b));
	conf_free(&b);
	teardown(NULL);
	assert_int_equal(load("[writer]\ncommit_max = 9\n", &b, err, sizeof err), 0);
	assert_string_equal(conf_writer_diff(&a, &b), "commit_max");
	assert_int_equal(conf_set(&b.socket, "/other.sock"), 0);
	assert_string_equal(conf_writer_diff(&a, &b), "socket");
	conf_free(&b);
	teardown(NULL);
	conf_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_teardown(test_values_override_defaults, teardown),
		cmocka_unit_test(test_errors_name_line),
		cmocka_unit_test_teardown(test_disk_full_action, teardown),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test_teardown(test_long_line, teardown),
		cmocka_unit_test(test_shipped_config_loads),
		cmocka_unit_test(test_writer_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
