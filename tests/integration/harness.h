/* harness.h — integration-test harness: private databases, real broker and
 * node processes on 127.0.0.1 ports of the test's own, raw publishes.
 *
 * Each test (th_init's name) has a directory of its own in the working
 * directory, it-NAME/, made empty by th_init(): the nodes the harness
 * starts keep their outbox journal in it-NAME/state/MEMBER, so that every
 * test runs its nodes on the disk outbox without meeting another test's
 * (or another run's) journal. The processes the harness starts inherit no
 * descriptor but stdin, stdout and stderr (a flock held by the caller
 * stays the caller's, whatever becomes of them). */
#ifndef HARNESS_H
#define HARNESS_H

#include "fedbus/fedbus.h"
#include "fedbus.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A member's keys as the harness keeps them (th_member(), th_keys_make()). */
typedef struct {
    char id[33];
    char curve_public[41], curve_secret[41]; /* Z85 */
    char sign_public[65], sign_key_id[17];   /* hex */
    char file[256], pub_file[256];           /* its secret key file (0600) and public one */
} th_keys_t;

#define TH_MEMBERS_MAX 24

typedef struct {
    char name[64];
    char dir[96]; /* it-NAME: the test's own directory */
    char conninfo[256];
    int port_base;
    char ingest[64], feed[64], replay[64];
    pid_t broker;
    char broker_log[256];
    pid_t nodes[8];
    char node_submit[8][64];
    char node_log[8][256];
    char node_output[8][256];
    int nnodes;
    /* Trust (th_trust()): the broker runs with keys, and the harness's
     * clients connect with the keys of members it registers. */
    int trust;
    th_keys_t broker_keys;
    th_keys_t members[TH_MEMBERS_MAX];
    int nmembers;
} th_t;

/* Creates a fresh database fedbus_it_<name> (PG* environment, as set by
 * pg_virtualenv), makes the test's directory it-<name>/ anew (empty) and
 * fills t. Fails the test when PostgreSQL is missing. */
void th_init(th_t *t, const char *name, int port_base);

/* Makes the brokers t starts run with keys (CURVE on every socket, clients
 * admitted by the member registry), and the harness's nodes, sockets and
 * CLI runs connect with the keys of members it registers (th_member()).
 * th_init() does it: the broker is secure by default. */
void th_trust(th_t *t);

/* The opposite, for a test whose peers are not a real broker (a fake one
 * of the test's own): nodes and sockets connect in plaintext. A broker
 * started with --insecure-plaintext does the same by itself. */
void th_plaintext(th_t *t);

/* Writes the flags a node of member started by hand needs: under trust
 * "--keys=FILE" and "--broker-key=FILE" (member registered on first use),
 * else "--keys=" and "--broker-key=" (plaintext). Each buffer 320 bytes. */
void th_node_flags(th_t *t, const char *member, char *keys, char *broker_key);

/* fb_replay() on t's broker, as the harness's own member. */
int th_replay(th_t *t, const char *const *patterns, int npatterns, uint64_t from_seq, int64_t since_us,
              uint32_t limit, fb_replay_fn fn, void *arg, int timeout_ms);

/* fb_subscriber_open() on t's feed and replay as member; NULL as it says. */
fb_subscriber_t *th_subscriber(th_t *t, const char *member);

/* fb_publisher_open() on t's ingest as member. */
fb_publisher_t *th_publisher(th_t *t, const char *member);

/* Fresh keys for id written to it-NAME-ID.key (0600) and .pub; fills *out. */
void th_keys_make(th_t *t, const char *id, th_keys_t *out);

/* Registers member id of kind (hub, partner, observer) with keys, active,
 * publishing anywhere in its namespace (*.ID) and reading everything, by SQL into
 * fedbus_members and fedbus_member_keys (migrating the database first,
 * as the broker would), and sends NOTIFY fedbus_members. A member already
 * there gets these keys and is active again. */
void th_member_register(th_t *t, const char *id, const char *kind, const th_keys_t *keys);

/* The keys of member id, made and registered (a hub) on first use. */
const th_keys_t *th_member(th_t *t, const char *id);

/* Sets member id's status (active, suspended, revoked) as an admin would:
 * UPDATE fedbus_members SET status, updated_at = now(); NOTIFY fedbus_members. */
void th_member_status(th_t *t, const char *id, const char *status);

/* The options of a client socket to endpoint as member (registered on
 * first use; its strings live in t); plaintext without th_trust(). */
fb_endpoint_opts_t th_endpoint(th_t *t, const char *endpoint, const char *member);

/* A socket of type connected to endpoint as member: a CURVE client with
 * member's keys under th_trust(), else plaintext. Fails the test when it
 * cannot be made. */
void *th_socket(th_t *t, int type, const char *endpoint, const char *member);

/* Stops every process started through t. */
void th_cleanup(th_t *t);

/* Starts the broker (extra: NULL-terminated further flags) and waits until
 * it answers replay requests. Under th_trust() it runs with its keys, and
 * is asked as member "th-probe" (registered here). */
void th_broker_start(th_t *t, const char *const *extra);

/* Stops the broker with sig (SIGTERM or SIGKILL) and returns its exit status. */
int th_broker_stop(th_t *t, int sig);

/* Starts a node for member; subscribe may be NULL. Returns its index. Its
 * journal is in th_state_dir() of member, shared by the nodes of that
 * member this test starts (a restart finds what the last one held). */
int th_node_start(th_t *t, const char *member, const char *subscribe);

/* Writes the state-dir of member's nodes in this test, it-NAME/state/MEMBER,
 * into out (size bytes) and returns out: for nodes a test starts itself. */
const char *th_state_dir(const th_t *t, const char *member, char *out, size_t size);

/* Starts (or, after th_stop_pid() of t->nodes[i], starts again) node i for
 * member with its submit socket on port_base + 10 + i, its journal in
 * th_state_dir() of member (unless extra gives a --state-dir) and its log
 * and output files kept (appended to) across restarts; subscribe and
 * broker may be NULL (nothing; t's ingest), extra is NULL or
 * NULL-terminated further flags. Returns i. */
int th_node_spawn(th_t *t, int i, const char *member, const char *subscribe, const char *broker,
                  const char *const *extra);

/* The node program th_node_spawn() starts: FEDBUS_NODE_BIN (the one
 * installed), unless a test sets it to FEDBUS_NODE_HOOKS_BIN (the same with
 * its test hooks, nodes/fb_syncer.h). */
extern const char *th_node_bin;

/* Starts argv with stderr appended to log; the harness stops it at exit. */
pid_t th_spawn(const char *const *argv, const char *log);

/* Sends SIGKILL to every process the harness started and still runs,
 * without waiting: async-signal-safe, for a test's watchdog. */
void th_kill_children_now(void);

/* Stops pid with sig (escalating to SIGKILL after 5 s); returns its wait status. */
int th_stop_pid(pid_t pid, int sig);

/* Runs one SQL statement returning one integer. */
long long th_sql_int(th_t *t, const char *sql);

/* Removes path and everything under it (symlinks not followed), when it
 * exists; fails the test when something cannot be removed. */
void th_rm_tree(const char *path);

/* Runs SQL that returns no rows (DDL, INSERT, ...); fails the test on an error. */
void th_sql_exec(th_t *t, const char *sql);

/* Builds a NodeMessage publish frame from message JSON, with origin,
 * origin_seq and (if id != NULL) the UUID given. Returns malloc'd bytes. */
uint8_t *th_frame(const char *json, const char *origin, uint64_t origin_seq, const char *id,
                  size_t *len);

/* One ack as read from a raw DEALER. */
typedef struct {
    int status; /* FEDBUS__ACK_STATUS__* */
    uint64_t global_seq;
    int reason;
} th_ack_t;

/* Reads the next ack from sock within timeout_ms; returns 0, or -1 on
 * timeout. Fails the test on a frame that is not an ack. */
int th_read_ack(void *sock, int timeout_ms, th_ack_t *ack);

/* A minimal valid event message JSON for origin (topic event.ORIGIN.forum),
 * with title text t (static buffer, overwritten by the next call). */
const char *th_event_json(const char *origin, const char *category, const char *title);

/* The value of key (e.g. " store_ms_max=") in the last stats line of t's
 * broker log; fails the test when there is none. */
double th_stat(const th_t *t, const char *key);

/* As th_stat(), from a stats line the broker wrote after this call: it
 * counts everything that happened before the call. The broker writes one
 * a second when a counter changed; after 5 s with none, nothing changed
 * and the last line is read. */
double th_stat_fresh(const th_t *t, const char *key);

/* The value of key (e.g. " zap_unknown=") in the last "stats trust" line
 * of t's broker log; -1 when there is none. */
double th_stat_trust(const th_t *t, const char *key);

/* Counts lines of a file that contain needle. */
int th_count_lines(const char *path, const char *needle);

/* Waits up to timeout_ms until at least min lines of path contain needle;
 * returns how many do then. */
int th_wait_lines(const char *path, const char *needle, int min, int timeout_ms);

/* Runs argv (NULL-terminated) to completion, capturing stdout into out
 * (malloc'd, NUL-terminated) when out != NULL. Returns the exit status.
 * The CLI gets the harness member's keys in FEDBUS_KEYS and
 * FEDBUS_BROKER_KEY under trust (unless the test set them itself). */
int th_run(const char *const *argv, char **out, int timeout_s);

/* One plain HTTP/1.1 request to 127.0.0.1:port with a JSON body (payload may
 * be NULL), sent as Content-Type: application/json. Returns the status, or 0
 * when nothing answers; copies the headers into head and the body into body
 * (each may be NULL), cut to fit. */
int th_http(int port, const char *method, const char *path, const char *payload, char *head,
            size_t head_size, char *body, size_t body_size);

/* th_http() with one more header line (e.g. "Authorization: Bearer x"; NULL: none). */
int th_http_with(int port, const char *method, const char *path, const char *header, const char *payload,
                 char *head, size_t head_size, char *body, size_t body_size);

/* th_http() with the Content-Type given (NULL: no such header). */
int th_http_typed(int port, const char *method, const char *path, const char *content_type,
                  const char *payload, char *head, size_t head_size, char *body, size_t body_size);

#endif
