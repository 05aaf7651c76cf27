/* it_member.c — the admin's key and member tools, run as the real fedbus binary against a real PostgreSQL. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

extern char **environ;

static th_t s_t;
static char s_pg[300];
static char s_dir[64]; /* key files of the tests */

/* The last run's exit status, stdout and the first line of stderr. */
static int s_rc;
static char *s_out;
static char s_err[1024];

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* 1 when the file at path holds text (compare = 1) or holds needle (compare = 0). */
static int s_file_has(const char *path, const char *text, int compare)
{
    char *have = s_slurp(path);
    int yes = compare ? !strcmp(have, text) : strstr(have, text) != NULL;
    free(have);
    return yes;
}

/* Runs argv (NULL-terminated) to completion; fills s_rc, s_out, s_err. */
static int s_run(const char *const *argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "it-member.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "it-member.err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) fail_msg("cannot start %s: %s", argv[0], strerror(rc));
    int status;
    waitpid(pid, &status, 0);
    free(s_out);
    s_out = s_slurp("it-member.out");
    char *err = s_slurp("it-member.err");
    snprintf(s_err, sizeof(s_err), "%.*s", (int)strcspn(err, "\n"), err);
    /* kept whole, where ops/test-sanitize looks for sanitizer reports */
    FILE *log = fopen("it-member-cli.log", "a");
    if (log) {
        fprintf(log, "== %s %s\n%s", argv[1] ? argv[1] : "", argv[1] && argv[2] ? argv[2] : "", err);
        fclose(log);
    }
    free(err);
    s_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return s_rc;
}

/* fedbus ARGS... (NULL-terminated). */
static int s_fedbus(const char *first, ...)
{
    const char *argv[32] = {FEDBUS_CLI_BIN, first};
    int n = 2;
    va_list ap;
    va_start(ap, first);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return s_run(argv);
}

/* fedbus member SUB --pg=... --actor=tester ARGS... (NULL-terminated). */
static int s_member(const char *sub, ...)
{
    const char *argv[32] = {FEDBUS_CLI_BIN, "member", sub, s_pg, "--actor=tester"};
    int n = 5;
    va_list ap;
    va_start(ap, sub);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return s_run(argv);
}

/* Fails unless the last run exited with rc and its stderr's first line starts with want. */
static void s_expect(int rc, const char *want)
{
    if (s_rc != rc || strncmp(s_err, want, strlen(want)) != 0)
        fail_msg("exit %d, want %d; stderr '%s', want '%s...'", s_rc, rc, s_err, want);
}

/* The one text value sql returns ("" for NULL); static, overwritten by the next call. */
static const char *s_sql(const char *fmt, ...)
{
    static char value[8192];
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    PGconn *c = PQconnectdb(s_t.conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    snprintf(value, sizeof(value), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return value;
}

/* Makes DIR/id.key and DIR/id.pub (over old ones); returns the .pub's path (static). */
static const char *s_keygen(const char *id)
{
    static char pub[2][128];
    static int flip;
    char member[64], out[100];
    snprintf(member, sizeof(member), "--member=%s", id);
    snprintf(out, sizeof(out), "--out=%s", s_dir);
    if (s_fedbus("keygen", member, out, "--force", NULL) != 0) fail_msg("keygen %s: %s", id, s_err);
    flip ^= 1;
    snprintf(pub[flip], sizeof(pub[flip]), "--keys=%s/%s.pub", s_dir, id);
    return pub[flip];
}

static long long s_audit_rows(const char *id)
{
    return atoll(s_sql("SELECT count(*) FROM fedbus_member_audit WHERE member = '%s'", id));
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "member", 25400);
    unlink("it-member-cli.log");
    snprintf(s_pg, sizeof(s_pg), "--pg=%s", s_t.conninfo);
    snprintf(s_dir, sizeof(s_dir), "/tmp/fb-it-member-XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s_dir);
    if (system(cmd) != 0) return -1;
    free(s_out);
    return 0;
}

static void test_keygen_writes_a_0600_secret_file_and_prints_the_public_file(void **state)
{
    (void)state;
    char out[100], key[128], pub[128];
    snprintf(out, sizeof(out), "--out=%s", s_dir);
    snprintf(key, sizeof(key), "%s/kr-ulsan.key", s_dir);
    snprintf(pub, sizeof(pub), "%s/kr-ulsan.pub", s_dir);
    assert_int_equal(s_fedbus("keygen", "--member=kr-ulsan", out, NULL), 0);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    char *printed = strdup(s_out), *file = s_slurp(pub);
    assert_string_equal(printed, file);
    assert_non_null(strstr(printed, "member = kr-ulsan\ncurve-public = "));
    assert_null(strstr(printed, "secret"));
    assert_true(s_file_has(key, "sign-secret = ", 0));
    assert_int_equal(s_fedbus("keygen", "--show", key, NULL), 0);
    assert_string_equal(s_out, file);
    assert_int_equal(s_fedbus("keygen", "--show", pub, NULL), 0);
    assert_string_equal(s_out, file);
    /* the broker's keys: the same files under the id "broker" */
    assert_int_equal(s_fedbus("keygen", "--member=broker", out, NULL), 0);
    assert_non_null(strstr(s_out, "member = broker\n"));
    free(printed);
    free(file);
}

/* --out names a directory that need not exist: what is missing of it is
 * made, mode 0700 (it holds a secret key); what exists is left as it is. */
static void test_keygen_makes_the_missing_directories_of_out_with_mode_0700(void **state)
{
    (void)state;
    char out[160], deep[128], mid[128], key[160];
    snprintf(mid, sizeof(mid), "%s/keys-new", s_dir);
    snprintf(deep, sizeof(deep), "%s/keys-new/kr-mokpo", s_dir);
    snprintf(out, sizeof(out), "--out=%s/", deep);
    snprintf(key, sizeof(key), "%s/kr-mokpo.key", deep);
    struct stat st, parent;
    assert_int_equal(stat(s_dir, &parent), 0);
    assert_int_equal(s_fedbus("keygen", "--member=kr-mokpo", out, NULL), 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(deep, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(mid, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(s_dir, &st), 0);
    assert_int_equal(st.st_mode, parent.st_mode);
    assert_non_null(strstr(s_err, "made directory"));
}

static void test_keygen_refusals_have_clear_errors_and_exit_codes(void **state)
{
    (void)state;
    char out[100], key[128], file_out[140];
    snprintf(out, sizeof(out), "--out=%s", s_dir);
    snprintf(key, sizeof(key), "%s/kr-jeju.key", s_dir);
    snprintf(file_out, sizeof(file_out), "--out=%s", key);
    assert_int_equal(s_fedbus("keygen", "--member=kr-jeju", out, NULL), 0);
    char *before = s_slurp(key);
    s_fedbus("keygen", "--member=kr-jeju", out, NULL);
    char want[300];
    snprintf(want, sizeof(want), "fedbus keygen: %s exists; refusing to overwrite keys (--force replaces them)", key);
    s_expect(4, want);
    assert_true(s_file_has(key, before, 1));
    assert_int_equal(s_fedbus("keygen", "--member=kr-jeju", out, "--force", NULL), 0);
    assert_false(s_file_has(key, before, 1));
    free(before);
    s_fedbus("keygen", "--member=Kr_Jeju", out, NULL);
    s_expect(2, "fedbus keygen: member id 'Kr_Jeju' is not 1-32 of [a-z0-9-]");
    char under_file[160];
    snprintf(under_file, sizeof(under_file), "--out=%s/sub", key);
    s_fedbus("keygen", "--member=kr-jeju", under_file, NULL);
    snprintf(want, sizeof(want), "fedbus keygen: cannot make directory %s/sub: Not a directory", key);
    s_expect(1, want);
    s_fedbus("keygen", "--member=kr-jeju", file_out, NULL);
    snprintf(want, sizeof(want), "fedbus keygen: cannot write keys into %s: not a directory", key);
    s_expect(1, want);
    if (geteuid() != 0) { /* root writes anywhere */
        char ro[128], ro_out[140];
        snprintf(ro, sizeof(ro), "%s/ro", s_dir);
        snprintf(ro_out, sizeof(ro_out), "--out=%s", ro);
        assert_int_equal(mkdir(ro, 0500), 0);
        s_fedbus("keygen", "--member=kr-jeju", ro_out, NULL);
        s_expect(1, "fedbus keygen: cannot write keys into");
        snprintf(ro_out, sizeof(ro_out), "--out=%s/sub", ro);
        s_fedbus("keygen", "--member=kr-jeju", ro_out, NULL);
        snprintf(want, sizeof(want), "fedbus keygen: cannot make directory %s/sub: Permission denied", ro);
        s_expect(1, want);
    }
    s_fedbus("keygen", NULL);
    s_expect(2, "fedbus keygen: --member=ID is needed");
    s_fedbus("keygen", "--show", "/nonexistent.pub", NULL);
    s_expect(2, "fedbus keygen: /nonexistent.pub: No such file or directory");
    s_fedbus("keygen", "--show", key, "--member=kr-jeju", NULL);
    s_expect(2, "fedbus keygen: --show and --member do not go together");
    chmod(key, 0644);
    s_fedbus("keygen", "--show", key, NULL);
    s_expect(2, "fedbus keygen: ");
    assert_non_null(strstr(s_err, "must not be readable by others"));
    assert_int_equal(s_fedbus("keygen", "--help", NULL), 0);
    assert_non_null(strstr(s_out, "Exit status:"));
}

static void test_add_registers_member_keys_defaults_and_an_audit_row(void **state)
{
    (void)state;
    const char *keys = s_keygen("kr-gwangju");
    assert_int_equal(s_member("add", "kr-gwangju", "--kind=hub", keys, "--name-en=Gwangju hub",
                              "--name-ko=광주 허브", "--region=Gwangju", NULL),
                     0);
    assert_non_null(strstr(s_out, "registered kr-gwangju (hub, active)"));
    assert_string_equal(s_sql("SELECT kind || ' ' || status || ' ' || country || ' ' || region || ' ' || name_ko ||"
                              " ' ' || publish::text || ' ' || read::text FROM fedbus_members WHERE member = 'kr-gwangju'"),
                        "hub active KR Gwangju 광주 허브 {*.kr-gwangju} {*}");
    char pub[128];
    snprintf(pub, sizeof(pub), "%s/kr-gwangju.pub", s_dir);
    char *file = s_slurp(pub);
    assert_non_null(strstr(file, s_sql("SELECT 'curve-public = ' || curve_public FROM fedbus_members"
                                       " WHERE member = 'kr-gwangju'")));
    assert_non_null(strstr(file, s_sql("SELECT 'sign-public = ' || encode(public_key, 'base64') || E'\\n'"
                                       " || 'sign-key-id = ' || encode(key_id, 'hex')"
                                       " FROM fedbus_member_keys WHERE member = 'kr-gwangju'")));
    free(file);
    assert_string_equal(s_sql("SELECT valid_until IS NULL AND valid_from > now() - interval '1 minute'"
                              " FROM fedbus_member_keys WHERE member = 'kr-gwangju'"),
                        "t");
    /* who, what, when */
    assert_string_equal(s_sql("SELECT actor || ' ' || action || ' ' || (detail->>'db_user' = current_user)::text || ' '"
                              " || (at > now() - interval '1 minute')::text || ' '"
                              " || (detail->'changes'->'status'->>'new') || ' ' || (detail->'changes'->'kind'->>'new')"
                              " FROM fedbus_member_audit WHERE member = 'kr-gwangju'"),
                        "tester add true true active hub");
    /* defaults by kind; --read repeated and comma-separated */
    assert_int_equal(s_member("add", "intl-lyon", "--kind=partner", s_keygen("intl-lyon"), "--country=FR", NULL), 0);
    assert_int_equal(s_member("add", "obs-press", "--kind=observer", s_keygen("obs-press"), NULL), 0);
    assert_int_equal(s_member("add", "obs-lab", "--kind=observer", s_keygen("obs-lab"), "--read=cfp",
                              "--read", "event.kr-busan,researcher.kr-busan", "--publish=event.obs-lab", NULL),
                     0);
    assert_string_equal(s_sql("SELECT string_agg(member || ' ' || publish::text || ' ' || read::text, '; '"
                              " ORDER BY member) FROM fedbus_members WHERE member IN ('intl-lyon', 'obs-press', 'obs-lab')"),
                        "intl-lyon {*.intl-lyon} {event,cfp}; obs-lab {event.obs-lab} "
                        "{cfp,event.kr-busan,researcher.kr-busan}; obs-press {} {event,cfp}");
    /* the default actor is $USER@host */
    setenv("USER", "alice", 1);
    const char *argv[] = {FEDBUS_CLI_BIN, "member", "suspend", s_pg, "obs-press", NULL};
    assert_int_equal(s_run(argv), 0);
    assert_string_equal(s_sql("SELECT split_part(actor, '@', 1) FROM fedbus_member_audit WHERE member = 'obs-press'"
                              " AND action = 'suspend'"),
                        "alice");
}

static void test_list_show_and_export_print_the_registry(void **state)
{
    (void)state;
    assert_int_equal(s_member("add", "kr-sejong", "--kind=hub", s_keygen("kr-sejong"), "--name-en=Sejong hub", NULL), 0);
    const char *key_id = s_sql("SELECT encode(key_id, 'hex') FROM fedbus_member_keys WHERE member = 'kr-sejong'");
    char line[256];
    assert_int_equal(s_member("list", NULL), 0);
    assert_non_null(strstr(s_out, "ID "));
    snprintf(line, sizeof(line), "kr-sejong ");
    const char *row = strstr(s_out, line);
    assert_non_null(row);
    assert_non_null(strstr(row, key_id));
    assert_non_null(strstr(row, "hub       active     KR"));
    assert_int_equal(s_member("list", "--json", NULL), 0);
    json_t *list = json_loads(s_out, 0, NULL);
    assert_true(json_is_array(list) && json_array_size(list) >= 1);
    json_decref(list);
    assert_int_equal(s_member("show", "kr-sejong", NULL), 0);
    assert_non_null(strstr(s_out, "status        active"));
    assert_non_null(strstr(s_out, "signing keys (Ed25519):"));
    assert_non_null(strstr(s_out, key_id));
    assert_non_null(strstr(s_out, "(open)"));
    assert_non_null(strstr(s_out, "add         kr-sejong  by tester"));
    assert_int_equal(s_member("show", "kr-sejong", "--json", NULL), 0);
    json_t *m = json_loads(s_out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "kr-sejong");
    json_t *k = json_array_get(json_object_get(m, "keys"), 0);
    assert_string_equal(json_string_value(json_object_get(k, "key_id")), key_id);
    assert_true(json_is_null(json_object_get(k, "valid_until")));
    assert_int_equal(json_array_size(json_object_get(m, "audit")), 1);
    json_decref(m);
    assert_int_equal(s_member("export-directory", NULL), 0);
    json_t *dir = json_loads(s_out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(dir, "version")), 1);
    size_t i;
    json_t *v;
    int found = 0;
    json_array_foreach(json_object_get(dir, "members"), i, v) if (!strcmp(json_string_value(json_object_get(v, "id")),
                                                                          "kr-sejong")) {
        found = 1;
        assert_string_equal(json_string_value(json_object_get(json_object_get(v, "name"), "en")), "Sejong hub");
        assert_non_null(json_object_get(json_array_get(json_object_get(v, "keys"), 0), "valid_from"));
        assert_null(json_object_get(v, "audit"));
    }
    assert_true(found);
    json_decref(dir);
    /* FEDBUS_PG names the database, as for the broker */
    setenv("FEDBUS_PG", s_t.conninfo, 1);
    const char *argv[] = {FEDBUS_CLI_BIN, "member", "list", NULL};
    assert_int_equal(s_run(argv), 0);
    assert_non_null(strstr(s_out, "kr-sejong "));
    unsetenv("FEDBUS_PG");
}

static void test_add_refusals_have_clear_errors_and_change_nothing(void **state)
{
    (void)state;
    const char *keys = s_keygen("kr-pohang");
    assert_int_equal(s_member("add", "kr-pohang", "--kind=hub", keys, NULL), 0);
    long long members = atoll(s_sql("SELECT count(*) FROM fedbus_members"));
    long long audit = atoll(s_sql("SELECT count(*) FROM fedbus_member_audit"));
    /* the same keys under another id: a copy of the .pub with its member line changed */
    char path[128], copy[128], flag[140];
    snprintf(path, sizeof(path), "%s/kr-pohang.pub", s_dir);
    char *text = s_slurp(path), *at = strstr(text, "member = kr-pohang\n");
    assert_non_null(at);
    snprintf(copy, sizeof(copy), "%s/kr-andong.pub", s_dir);
    FILE *f = fopen(copy, "w");
    fprintf(f, "%.*smember = kr-andong\n%s", (int)(at - text), text, at + strlen("member = kr-pohang\n"));
    fclose(f);
    free(text);
    snprintf(flag, sizeof(flag), "--keys=%s", copy);
    s_member("add", "kr-pohang", "--kind=hub", keys, NULL);
    s_expect(4, "fedbus member add: member kr-pohang is registered already");
    s_member("add", "kr-andong", "--kind=hub", flag, NULL);
    s_expect(5, "fedbus member add: the CURVE key of kr-andong's key file is registered already, to member kr-pohang");
    s_member("add", "kr-other", "--kind=hub", flag, NULL);
    s_expect(2, "fedbus member add: ");
    assert_non_null(strstr(s_err, "holds the keys of member 'kr-andong', not 'kr-other'"));
    char secret[140];
    snprintf(secret, sizeof(secret), "--keys=%s/kr-pohang.key", s_dir);
    s_member("add", "kr-pohang2", "--kind=hub", secret, NULL);
    s_expect(2, "fedbus member add: ");
    assert_non_null(strstr(s_err, "holds secret keys"));
    s_member("add", "kr-x", "--kind=admin", keys, NULL);
    s_expect(2, "fedbus member add: --kind=admin: not hub, partner or observer");
    s_member("add", "kr-x", "--kind=hub", NULL);
    s_expect(2, "fedbus member add: --kind and --keys are needed");
    s_member("add", "--kind=hub", keys, NULL);
    s_expect(2, "fedbus member add: one member ID is needed");
    s_member("add", "kr-andong", "--kind=hub", flag, "--read=news", NULL);
    s_expect(2, "fedbus member add: --read: 'news' is not a topic pattern");
    s_member("add", "kr-andong", "--kind=hub", flag, "--country=Korea", NULL);
    s_expect(2, "fedbus member add: --country is longer than 2 bytes");
    s_member("add", "broker", "--kind=hub", s_keygen("broker"), NULL);
    s_expect(2, "fedbus member add: member id 'broker' is the broker's own key id");
    s_member("add", "kr-andong", "--kind=hub", "--keys=/nonexistent.pub", NULL);
    s_expect(2, "fedbus member add: /nonexistent.pub: No such file or directory");
    s_member("add", "kr-andong", "--kind=hub", flag, "--bogus", NULL);
    s_expect(2, "fedbus member add: unknown option --bogus");
    const char *argv[] = {FEDBUS_CLI_BIN, "member", "add", "--pg=dbname=fedbus_it_no_such_db", "kr-x2",
                          "--kind=hub", s_keygen("kr-x2"), NULL};
    s_run(argv);
    s_expect(1, "fedbus member add: cannot connect to PostgreSQL: ");
    assert_int_equal(atoll(s_sql("SELECT count(*) FROM fedbus_members")), members);
    assert_int_equal(atoll(s_sql("SELECT count(*) FROM fedbus_member_audit")), audit);
}

static void test_suspend_reactivate_revoke_and_their_audit(void **state)
{
    (void)state;
    assert_int_equal(s_member("add", "kr-mokpo", "--kind=hub", s_keygen("kr-mokpo"), NULL), 0);
    assert_int_equal(s_member("suspend", "kr-mokpo", "--reason=unpaid fees", NULL), 0);
    assert_string_equal(s_out, "kr-mokpo: active -> suspended\n");
    assert_string_equal(s_sql("SELECT status FROM fedbus_members WHERE member = 'kr-mokpo'"), "suspended");
    assert_string_equal(s_sql("SELECT detail->>'reason' || ' ' || (detail->'changes'->'status')::text"
                              " FROM fedbus_member_audit WHERE member = 'kr-mokpo' AND action = 'suspend'"),
                        "unpaid fees {\"new\": \"suspended\", \"old\": \"active\"}");
    long long rows = s_audit_rows("kr-mokpo");
    assert_int_equal(s_member("suspend", "kr-mokpo", NULL), 0);
    assert_string_equal(s_out, "kr-mokpo is suspended already: nothing changed\n");
    assert_int_equal(s_audit_rows("kr-mokpo"), rows);
    assert_int_equal(s_member("reactivate", "kr-mokpo", NULL), 0);
    assert_string_equal(s_sql("SELECT status FROM fedbus_members WHERE member = 'kr-mokpo'"), "active");
    assert_int_equal(s_member("revoke", "kr-mokpo", "--reason=left the federation", NULL), 0);
    assert_string_equal(s_sql("SELECT status || ' ' || bool_and(valid_until <= now())::text FROM fedbus_members"
                              " JOIN fedbus_member_keys USING (member) WHERE member = 'kr-mokpo' GROUP BY status"),
                        "revoked true");
    assert_string_equal(s_sql("SELECT string_agg(action, ',' ORDER BY id) FROM fedbus_member_audit"
                              " WHERE member = 'kr-mokpo'"),
                        "add,suspend,reactivate,revoke");
    rows = s_audit_rows("kr-mokpo");
    s_member("reactivate", "kr-mokpo", NULL);
    s_expect(6, "fedbus member reactivate: member kr-mokpo is revoked; revocation is final");
    s_member("suspend", "kr-mokpo", NULL);
    s_expect(6, "fedbus member suspend: member kr-mokpo is revoked; revocation is final");
    s_member("rotate-key", "kr-mokpo", s_keygen("kr-mokpo"), NULL);
    s_expect(6, "fedbus member rotate-key: member kr-mokpo is revoked; revocation is final");
    assert_int_equal(s_member("revoke", "kr-mokpo", NULL), 0);
    assert_int_equal(s_audit_rows("kr-mokpo"), rows);
    assert_string_equal(s_sql("SELECT status FROM fedbus_members WHERE member = 'kr-mokpo'"), "revoked");
    /* unknown members */
    const char *subs[] = {"suspend", "reactivate", "revoke", "show", "log"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char want[128];
        s_member(subs[i], "kr-nowhere", NULL);
        snprintf(want, sizeof(want), "fedbus member %s: no member 'kr-nowhere'", subs[i]);
        s_expect(3, want);
    }
    s_member("rotate-key", "kr-nowhere", s_keygen("kr-nowhere"), NULL);
    s_expect(3, "fedbus member rotate-key: no member 'kr-nowhere'");
}

static void test_rotate_key_overlaps_the_old_signing_key_and_replaces_curve_at_once(void **state)
{
    (void)state;
    assert_int_equal(s_member("add", "kr-suwon", "--kind=hub", s_keygen("kr-suwon"), NULL), 0);
    const char *old = strdup(s_sql("SELECT encode(key_id, 'hex') FROM fedbus_member_keys WHERE member = 'kr-suwon'"));
    const char *keys = s_keygen("kr-suwon");
    assert_int_equal(s_member("rotate-key", "kr-suwon", keys, "--overlap=2h", NULL), 0);
    char pub[128];
    snprintf(pub, sizeof(pub), "%s/kr-suwon.pub", s_dir);
    char *file = s_slurp(pub);
    assert_non_null(strstr(file, s_sql("SELECT 'curve-public = ' || curve_public FROM fedbus_members"
                                       " WHERE member = 'kr-suwon'")));
    free(file);
    /* old: until now + 2h; new: from now, open */
    assert_string_equal(s_sql("SELECT string_agg((extract(epoch FROM valid_until - now()) BETWEEN 7140 AND 7200)::text,"
                              " ',') FROM fedbus_member_keys WHERE member = 'kr-suwon' AND encode(key_id, 'hex') = '%s'",
                              old),
                        "true");
    assert_string_equal(s_sql("SELECT (valid_until IS NULL AND valid_from > now() - interval '1 minute')::text"
                              " FROM fedbus_member_keys WHERE member = 'kr-suwon' AND encode(key_id, 'hex') <> '%s'",
                              old),
                        "true");
    assert_string_equal(s_sql("SELECT (detail->>'overlap_s') || ' ' || jsonb_array_length(detail->'changes'->"
                              "'sign_keys'->'new')::text || ' ' || (detail ? 'db_user')::text || ' '"
                              " || (detail->'changes' ? 'curve_public')::text FROM fedbus_member_audit"
                              " WHERE member = 'kr-suwon' AND action = 'rotate-key'"),
                        "7200 2 true true");
    s_member("rotate-key", "kr-suwon", keys, NULL);
    s_expect(5, "fedbus member rotate-key: the CURVE key of kr-suwon's key file is registered already, to member kr-suwon");
    s_member("rotate-key", "kr-suwon", s_keygen("kr-suwon"), "--overlap=1y", NULL);
    s_expect(2, "fedbus member rotate-key: --overlap=1y: not a duration");
    s_member("rotate-key", "kr-suwon", s_keygen("kr-gimhae"), NULL);
    s_expect(2, "fedbus member rotate-key: ");
    assert_non_null(strstr(s_err, "holds the keys of member 'kr-gimhae', not 'kr-suwon'"));
    /* --overlap=0: every earlier key ends now, even one in its overlap */
    assert_int_equal(s_member("rotate-key", "kr-suwon", s_keygen("kr-suwon"), "--overlap=0", NULL), 0);
    assert_string_equal(s_sql("SELECT count(*) FILTER (WHERE valid_until IS NULL) || ' '"
                              " || count(*) FILTER (WHERE valid_until <= now()) FROM fedbus_member_keys"
                              " WHERE member = 'kr-suwon'"),
                        "1 2");
    free((void *)old);
}

static void s_write_members(const char *path, const char *busan_name, const char *extra_member)
{
    char src[512];
    snprintf(src, sizeof(src), "%s/seeds/members.json", FEDBUS_SOURCE_DIR);
    json_t *doc = json_load_file(src, 0, NULL);
    assert_non_null(doc);
    json_t *members = json_object_get(doc, "members");
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) if (busan_name && !strcmp(json_string_value(json_object_get(m, "id")), "kr-busan"))
        json_object_set_new(json_object_get(m, "name"), "en", json_string(busan_name));
    if (extra_member) json_array_append_new(members, json_pack("{s:s,s:s}", "id", extra_member, "kind", "observer"));
    assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2)), 0);
    json_decref(doc);
}

static void test_import_registers_seeds_idempotently_and_all_or_nothing(void **state)
{
    (void)state;
    const char *ids[] = {"kr-incheon", "kr-seoul", "kr-daejeon", "kr-busan", "intl-wta", "intl-example-sciencepark"};
    for (size_t i = 0; i < 6; i++) s_keygen(ids[i]);
    char file[128], keys_dir[100], seeds[512];
    snprintf(file, sizeof(file), "%s/members.json", s_dir);
    snprintf(keys_dir, sizeof(keys_dir), "--keys-dir=%s", s_dir);
    snprintf(seeds, sizeof(seeds), "%s/seeds/members.json", FEDBUS_SOURCE_DIR);
    assert_int_equal(s_member("import", seeds, keys_dir, NULL), 0);
    assert_string_equal(s_out, "kr-incheon: added\nkr-seoul: added\nkr-daejeon: added\nkr-busan: added\n"
                               "intl-wta: added\nintl-example-sciencepark: added\n");
    assert_string_equal(s_sql("SELECT string_agg(member || ' ' || kind || ' ' || country || ' ' || region || ' '"
                              " || read::text, '; ' ORDER BY member) FROM fedbus_members"
                              " WHERE member IN ('intl-wta', 'intl-example-sciencepark')"),
                        "intl-example-sciencepark partner DE Heidelberg {event,cfp}; "
                        "intl-wta partner KR Daejeon {event,cfp,researcher.kr-daejeon}");
    long long audit = atoll(s_sql("SELECT count(*) FROM fedbus_member_audit"));
    assert_int_equal(s_member("import", seeds, keys_dir, NULL), 0);
    assert_non_null(strstr(s_out, "kr-busan: unchanged\n"));
    assert_int_equal(atoll(s_sql("SELECT count(*) FROM fedbus_member_audit")), audit);
    /* a changed name: one update, old and new in the audit */
    s_write_members(file, "Busan science hub", NULL);
    assert_int_equal(s_member("import", file, keys_dir, NULL), 0);
    assert_non_null(strstr(s_out, "kr-busan: updated\nintl-wta: unchanged\n"));
    assert_string_equal(s_sql("SELECT detail->'changes'->'name_en'->>'old' || ' -> ' || (detail->'changes'->"
                              "'name_en'->>'new') FROM fedbus_member_audit WHERE member = 'kr-busan' AND action = 'update'"),
                        "Busan S&T network hub -> Busan science hub");
    /* other keys for a registered member: refused, and nothing of the file is imported */
    s_keygen("kr-busan");
    s_keygen("obs-new");
    s_write_members(file, "Busan hub", "obs-new");
    s_member("import", file, keys_dir, NULL);
    s_expect(7, "fedbus member import: kr-busan: the keys given (sign-key-id ");
    assert_string_equal(s_sql("SELECT name_en FROM fedbus_members WHERE member = 'kr-busan'"), "Busan science hub");
    assert_string_equal(s_sql("SELECT count(*) FROM fedbus_members WHERE member = 'obs-new'"), "0");
    /* bad files */
    char bad[128];
    snprintf(bad, sizeof(bad), "%s/bad.json", s_dir);
    FILE *f = fopen(bad, "w");
    fputs("{\"members\": [{\"id\": \"kr-x\", \"kind\": \"hub\", \"read\": [\"news\"]}]}", f);
    fclose(f);
    s_member("import", bad, keys_dir, NULL);
    s_expect(2, "fedbus member import: ");
    assert_non_null(strstr(s_err, "member 1: kr-x: read: 'news' is not a topic pattern"));
    f = fopen(bad, "w");
    fputs("{\"members\": [{\"id\": \"kr-nokeys\", \"kind\": \"hub\"}]}", f);
    fclose(f);
    s_member("import", bad, keys_dir, NULL);
    s_expect(2, "fedbus member import: ");
    assert_non_null(strstr(s_err, "kr-nokeys.pub: No such file or directory"));
    s_member("import", "/nonexistent.json", keys_dir, NULL);
    s_expect(2, "fedbus member import: /nonexistent.json");
    s_member("import", seeds, NULL);
    s_expect(2, "fedbus member import: a members file and --keys-dir=DIR are needed");
}

/* Waits up to 2 s for a notification on c; returns its payload (static) or NULL. */
static const char *s_notified(PGconn *c)
{
    static char payload[64];
    for (int i = 0; i < 200; i++) {
        PQconsumeInput(c);
        PGnotify *n = PQnotifies(c);
        if (n) {
            assert_string_equal(n->relname, "fedbus_members");
            snprintf(payload, sizeof(payload), "%s", n->extra);
            PQfreemem(n);
            return payload;
        }
        usleep(10000);
    }
    return NULL;
}

static void test_every_change_notifies_listeners_and_bumps_updated_at(void **state)
{
    (void)state;
    PGconn *c = PQconnectdb(s_t.conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "LISTEN fedbus_members"));
    assert_int_equal(s_member("add", "kr-yeosu", "--kind=hub", s_keygen("kr-yeosu"), NULL), 0);
    assert_string_equal(s_notified(c), "kr-yeosu");
    const char *updated = strdup(s_sql("SELECT updated_at FROM fedbus_members WHERE member = 'kr-yeosu'"));
    assert_int_equal(s_member("suspend", "kr-yeosu", NULL), 0);
    assert_string_equal(s_notified(c), "kr-yeosu");
    assert_string_equal(s_sql("SELECT (updated_at > '%s')::text FROM fedbus_members WHERE member = 'kr-yeosu'",
                              updated),
                        "true");
    free((void *)updated);
    assert_int_equal(s_member("reactivate", "kr-yeosu", NULL), 0);
    assert_string_equal(s_notified(c), "kr-yeosu");
    assert_int_equal(s_member("rotate-key", "kr-yeosu", s_keygen("kr-yeosu"), NULL), 0);
    assert_string_equal(s_notified(c), "kr-yeosu");
    assert_int_equal(s_member("revoke", "kr-yeosu", NULL), 0);
    assert_string_equal(s_notified(c), "kr-yeosu");
    /* refusals and no-ops notify nobody */
    s_member("reactivate", "kr-yeosu", NULL);
    assert_int_equal(s_rc, 6);
    assert_int_equal(s_member("revoke", "kr-yeosu", NULL), 0);
    assert_null(s_notified(c));
    PQfinish(c);
}

static void test_log_shows_the_audit_trail_filtered(void **state)
{
    (void)state;
    assert_int_equal(s_member("add", "kr-gunsan", "--kind=partner", s_keygen("kr-gunsan"), NULL), 0);
    assert_int_equal(s_member("suspend", "kr-gunsan", "--reason=audit test", NULL), 0);
    assert_int_equal(s_member("log", "kr-gunsan", NULL), 0);
    assert_non_null(strstr(s_out, "  add         kr-gunsan  by tester (PostgreSQL user "));
    assert_non_null(strstr(s_out, "  suspend     kr-gunsan  by tester"));
    assert_non_null(strstr(s_out, "reason: audit test"));
    assert_null(strstr(s_out, "kr-mokpo"));
    assert_int_equal(s_member("log", "kr-gunsan", "--json", "--limit=1", NULL), 0);
    json_t *rows = json_loads(s_out, 0, NULL);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "action")), "suspend");
    json_decref(rows);
    assert_int_equal(s_member("log", "--since=1h", NULL), 0);
    assert_non_null(strstr(s_out, "kr-gunsan"));
    assert_int_equal(s_member("log", "--since=2999-01-01", NULL), 0);
    assert_string_equal(s_out, "");
    s_member("log", "--since=yesterday", NULL);
    s_expect(2, "fedbus member log: --since=yesterday: neither a time");
    s_member("log", "a", "b", NULL);
    s_expect(2, "fedbus member log: one member ID is needed");
}

static void test_member_help_and_usage_errors(void **state)
{
    (void)state;
    assert_int_equal(s_fedbus("member", "--help", NULL), 0);
    assert_non_null(strstr(s_out, "rotate-key ID --keys=NEW.pub"));
    assert_non_null(strstr(s_out, "  6  revoked:"));
    assert_int_equal(s_fedbus("member", "add", "--help", NULL), 0);
    assert_non_null(strstr(s_out, "--publish=TEXT"));
    assert_non_null(strstr(s_out, "Exit status:"));
    s_fedbus("member", NULL);
    s_expect(2, "usage: fedbus member SUBCOMMAND");
    s_fedbus("member", "frobnicate", NULL);
    s_expect(2, "fedbus member: unknown subcommand 'frobnicate'");
    assert_int_equal(s_fedbus("--help", NULL), 0);
    assert_non_null(strstr(s_out, "member SUBCOMMAND"));
}

static void test_broker_starts_on_a_registry_the_cli_created(void **state)
{
    (void)state;
    th_broker_start(&s_t, NULL);
    assert_int_equal(th_sql_int(&s_t, "SELECT max(version) FROM fedbus_schema") >= 5, 1);
    assert_int_equal(s_member("list", NULL), 0);
    th_broker_stop(&s_t, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_writes_a_0600_secret_file_and_prints_the_public_file),
        cmocka_unit_test(test_keygen_makes_the_missing_directories_of_out_with_mode_0700),
        cmocka_unit_test(test_keygen_refusals_have_clear_errors_and_exit_codes),
        cmocka_unit_test(test_add_registers_member_keys_defaults_and_an_audit_row),
        cmocka_unit_test(test_list_show_and_export_print_the_registry),
        cmocka_unit_test(test_add_refusals_have_clear_errors_and_change_nothing),
        cmocka_unit_test(test_suspend_reactivate_revoke_and_their_audit),
        cmocka_unit_test(test_rotate_key_overlaps_the_old_signing_key_and_replaces_curve_at_once),
        cmocka_unit_test(test_import_registers_seeds_idempotently_and_all_or_nothing),
        cmocka_unit_test(test_every_change_notifies_listeners_and_bumps_updated_at),
        cmocka_unit_test(test_log_shows_the_audit_trail_filtered),
        cmocka_unit_test(test_member_help_and_usage_errors),
        cmocka_unit_test(test_broker_starts_on_a_registry_the_cli_created),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
