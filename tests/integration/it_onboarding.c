/* it_onboarding.c — docs/onboarding.md run as written: a partner's keys, its registration, its node, its first verified message received and first signed event published. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

/* The command blocks of the page are read from it, not copied here, so
 * that the page and the test cannot drift apart: each is a ```sh block
 * right after a line "<!-- onboarding: ROLE STEP -->", and the page holds
 * exactly these steps, in this order, and no other sh block. */
#define DOC FEDBUS_SOURCE_DIR "/docs/onboarding.md"
#define PARTNER_SUBMIT "tcp://127.0.0.1:28290"

typedef struct {
    const char *role, *step;
    char *text;
} s_block_t;

static const char *const s_steps[][2] = {{"partner", "keygen"},  {"admin", "register"}, {"partner", "node"},
                                         {"partner", "receive"}, {"partner", "publish"}, {"partner", "replay"},
                                         {"admin", "seal"}};
#define NSTEPS (sizeof(s_steps) / sizeof(s_steps[0]))

static th_t s_t;
static char s_out[8192]; /* the last block's stdout and stderr */

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* Replaces every from in *text (malloc'd) by to. */
static void s_subst(char **text, const char *from, const char *to)
{
    char *p;
    while ((p = strstr(*text, from))) {
        size_t head = (size_t)(p - *text), fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
        char *n = malloc(head + tl + rest + 1);
        assert_non_null(n);
        memcpy(n, *text, head);
        memcpy(n + head, to, tl);
        memcpy(n + head + tl, p + fl, rest + 1);
        free(*text);
        *text = n;
    }
}

/* The page's command blocks, in order, placed on this test's endpoints.
 * Fails the test when the page does not hold the steps as s_steps says. */
static void s_read_doc(s_block_t *out)
{
    FILE *f = fopen(DOC, "r");
    if (!f) fail_msg("%s: %s", DOC, strerror(errno));
    char line[1024], role[32] = "", step[32] = "";
    size_t n = 0;
    int in = 0, marked = 0;
    char *text = NULL;
    size_t len = 0;
    while (fgets(line, sizeof(line), f)) {
        if (in) {
            if (strncmp(line, "```", 3) == 0) {
                if (n >= NSTEPS) fail_msg("%s: more command blocks than the %zu steps", DOC, NSTEPS);
                if (strcmp(role, s_steps[n][0]) || strcmp(step, s_steps[n][1]))
                    fail_msg("%s: step %zu is '%s %s', the test expects '%s %s'", DOC, n + 1, role, step, s_steps[n][0],
                             s_steps[n][1]);
                out[n].role = s_steps[n][0], out[n].step = s_steps[n][1], out[n].text = text;
                n++, in = 0, text = NULL, len = 0;
                continue;
            }
            size_t l = strlen(line);
            text = realloc(text, len + l + 1);
            assert_non_null(text);
            memcpy(text + len, line, l + 1);
            len += l;
        } else if (sscanf(line, "<!-- onboarding: %31s %31s -->", role, step) == 2) {
            marked = 1;
        } else if (strncmp(line, "```sh", 5) == 0) {
            if (!marked) fail_msg("%s: a sh block without its <!-- onboarding: ROLE STEP --> line", DOC);
            in = 1, marked = 0, text = strdup("");
        }
    }
    fclose(f);
    if (n != NSTEPS) fail_msg("%s: %zu command blocks, the test expects %zu", DOC, n, NSTEPS);
    for (size_t i = 0; i < n; i++) {
        s_subst(&out[i].text, "tcp://BROKER:7701", s_t.ingest);
        s_subst(&out[i].text, "tcp://BROKER:7702", s_t.feed);
        s_subst(&out[i].text, "tcp://BROKER:7703", s_t.replay);
        s_subst(&out[i].text, "tcp://127.0.0.1:7711", PARTNER_SUBMIT);
        if (strstr(out[i].text, "BROKER") || strstr(out[i].text, ":77"))
            fail_msg("%s: step %s names an endpoint the test does not place: %s", DOC, out[i].step, out[i].text);
    }
}

/* Runs a block with /bin/sh -e in dir (the role's own), its output in
 * s_out; returns the exit status. */
static int s_sh(const char *dir, const char *script)
{
    char log[256];
    snprintf(log, sizeof(log), "%s/../%s.out", dir, "block");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || chdir(dir) != 0) _exit(127);
        dup2(fd, 1), dup2(fd, 2), close(fd);
        execl("/bin/sh", "sh", "-ec", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    for (int i = 0; i < 600 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(50000);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    FILE *f = fopen(log, "r");
    size_t got = f ? fread(s_out, 1, sizeof(s_out) - 1, f) : 0;
    s_out[got] = '\0';
    if (f) fclose(f);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc != 0) print_message("--- %s (exit %d) ---\n%s\n--- output ---\n%s\n", dir, rc, script, s_out);
    return rc;
}

static void s_copy(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) fail_msg("copying %s to %s: %s", from, to, strerror(errno));
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), a)) > 0) assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

/* The value of "name = value" in a key file (into out). */
static void s_key_value(const char *path, const char *name, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s: %s", path, strerror(errno));
    char line[512];
    size_t nl = strlen(name);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, name, nl) && !strncmp(line + nl, " = ", 3)) snprintf(out, size, "%.*s", (int)strcspn(line + nl + 3, "\n"), line + nl + 3);
    fclose(f);
    if (!out[0]) fail_msg("%s holds no %s", path, name);
}

/* Waits up to ms for path to hold needle. */
static int s_wait_for(const char *path, const char *needle, int ms)
{
    for (int i = 0; i < ms / 100; i++, usleep(100000))
        if (th_count_lines(path, needle) > 0) return 1;
    return 0;
}

/* The environment the page assumes: fedbus and fedbus-node on PATH, the
 * admin's FEDBUS_PG, and no key of the harness's in FEDBUS_KEYS (the page's
 * own flags must do). */
static void s_environment(void)
{
    char path[4096], cli[512], node[512];
    snprintf(cli, sizeof(cli), "%s", FEDBUS_CLI_BIN);
    snprintf(node, sizeof(node), "%s", FEDBUS_NODE_BIN);
    *strrchr(cli, '/') = '\0';
    *strrchr(node, '/') = '\0';
    snprintf(path, sizeof(path), "%s:%s:%s", cli, node, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    setenv("FEDBUS_PG", s_t.conninfo, 1);
    unsetenv("FEDBUS_KEYS");
    unsetenv("FEDBUS_BROKER_KEY");
}

static void test_a_partner_follows_the_onboarding_page_to_its_first_verified_message_and_signed_event(void **state)
{
    (void)state;
    th_init(&s_t, "onboarding", 28200);
    s_block_t b[NSTEPS];
    s_read_doc(b);
    s_environment();
    th_broker_start(&s_t, (const char *const[]){"--signatures=required", NULL});
    /* A hub of the federation has published before the partner arrives. */
    int hub = th_node_start(&s_t, "kr-daejeon", NULL);
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[hub]);
    assert_non_null(pub);
    const char *json = th_event_json("kr-daejeon", "forum", "Daedeok biotech forum");
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    fb_publisher_destroy(&pub);

    char partner[128], admin[128], p[512], q[512];
    snprintf(partner, sizeof(partner), "%s/partner", s_t.dir);
    snprintf(admin, sizeof(admin), "%s/admin", s_t.dir);
    assert_int_equal(mkdir(partner, 0755), 0);
    assert_int_equal(mkdir(admin, 0755), 0);

    /* 2. keygen; the partner sends its .pub to the admin. */
    assert_int_equal(s_sh(partner, b[0].text), 0);
    struct stat st;
    snprintf(p, sizeof(p), "%s/keys/intl-lyon.key", partner);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_non_null(strstr(s_out, "sign-key-id = "));
    char key_id[32];
    snprintf(p, sizeof(p), "%s/keys/intl-lyon.pub", partner);
    s_key_value(p, "sign-key-id", key_id, sizeof(key_id));
    snprintf(q, sizeof(q), "%s/intl-lyon.pub", admin);
    s_copy(p, q);

    /* 3. the admin registers it and hands out the broker's public key. */
    snprintf(q, sizeof(q), "%s/broker.pub", admin);
    s_copy(s_t.broker_keys.pub_file, q);
    assert_int_equal(s_sh(admin, b[1].text), 0);
    assert_non_null(strstr(s_out, key_id));
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_members WHERE member = 'intl-lyon' AND kind = 'partner'"
                                      " AND status = 'active' AND publish = '{*.intl-lyon}'"),
                     1);
    snprintf(p, sizeof(p), "%s/broker.pub", partner);
    s_copy(q, p);

    /* 4. the partner's node, with its keys: admitted, signing. */
    char cmd[2048], log[256];
    snprintf(cmd, sizeof(cmd), "exec %s", b[2].text);
    snprintf(log, sizeof(log), "%s/node.log", s_t.dir);
    char here[512];
    assert_non_null(getcwd(here, sizeof(here)));
    assert_int_equal(chdir(partner), 0);
    th_spawn((const char *const[]){"/bin/sh", "-c", cmd, NULL}, "../node.log");
    assert_int_equal(chdir(here), 0);
    if (!s_wait_for(log, "welcomed by broker", 20000)) fail_msg("the partner's node was not welcomed (%s)", log);
    snprintf(p, sizeof(p), "signing as intl-lyon with Ed25519 key %s", key_id);
    assert_true(th_count_lines(log, p) >= 1);

    /* 5. its first message received: the hub's, verified by the broker. */
    snprintf(p, sizeof(p), "%s/feed.jsonl", partner);
    if (!s_wait_for(p, "Daedeok biotech forum", 15000)) fail_msg("the hub's event never reached %s", p);
    assert_int_equal(s_sh(partner, b[3].text), 0);
    assert_non_null(strstr(s_out, "Daedeok biotech forum"));
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages m WHERE origin = 'kr-daejeon' AND EXISTS"
                                      " (SELECT 1 FROM fedbus_seals s WHERE s.origin = m.origin"
                                      "  AND m.origin_seq = ANY (s.seqs))"),
                     1);

    /* 6. its first signed event. */
    assert_int_equal(s_sh(partner, b[4].text), 0);
    assert_non_null(strstr(s_out, "accepted global_seq="));
    assert_non_null(strstr(s_out, "origin_seq=1 "));

    /* 7. it sees it, and the admin sees its seal under the partner's key. */
    assert_int_equal(s_sh(partner, b[5].text), 0);
    assert_non_null(strstr(s_out, "Lyon-Daejeon bio cooperation seminar"));
    assert_int_equal(s_sh(admin, b[6].text), 0);
    snprintf(p, sizeof(p), "intl-lyon|1|1|%s", key_id);
    if (!strstr(s_out, p)) fail_msg("the admin's query printed %s, not a seal '%s'", s_out, p);
    for (size_t i = 0; i < NSTEPS; i++) free(b[i].text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_a_partner_follows_the_onboarding_page_to_its_first_verified_message_and_signed_event,
                                  s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
