/* fb_status.c — a health snapshot as the /api/status JSON, as Prometheus text, and as a readiness verdict. */
#include "fb_status.h"

#include "fb_envelope.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *fb_status_time(int64_t unix_us, char *out, size_t size)
{
    time_t secs = (time_t)(unix_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", day, (int)(unix_us % 1000000 / 1000));
    return out;
}

int fb_status_ready(const fb_health_snap_t *s, char *why, size_t size)
{
    if (!s->broker.pg_up) {
        snprintf(why, size, "postgres unreachable: %s", s->broker.pg_reason[0] ? s->broker.pg_reason : "no answer");
        return 0;
    }
    if (!s->broker.schema_ok) {
        snprintf(why, size, "%s", s->broker.pg_reason[0] ? s->broker.pg_reason : "schema not current");
        return 0;
    }
    if (size) why[0] = '\0';
    return 1;
}

/* ---------------------------------------------------------------- JSON -- */

static json_t *s_time_or_null(int64_t us)
{
    char t[40];
    return us ? json_string(fb_status_time(us, t, sizeof(t))) : json_null();
}

/* A string a peer or the registry gave: as it is when it is UTF-8, else "". */
static json_t *s_text(const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_string("");
}

static json_t *s_member_json(const fb_health_member_t *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "name", json_pack("{s:o,s:o}", "en", s_text(m->name_en), "ko", s_text(m->name_ko)));
    json_object_set_new(o, "role", json_string(m->role));
    json_object_set_new(o, "state", json_string(fb_health_state_name(m->state)));
    json_object_set_new(o, "state_since", s_time_or_null(m->state_since_us));
    json_object_set_new(o, "last_seen", s_time_or_null(m->last_seen_us));
    if (m->last_message_us) {
        char t[40];
        json_object_set_new(o, "last_message", json_pack("{s:o,s:s}", "topic", s_text(m->last_topic), "at",
                                                         fb_status_time(m->last_message_us, t, sizeof(t))));
    } else {
        json_object_set_new(o, "last_message", json_null());
    }
    json_object_set_new(o, "msgs_per_min", json_real(m->msgs_per_min));
    json_t *series = json_array();
    for (int k = 0; k < FB_HEALTH_SERIES; k++) json_array_append_new(series, json_integer(m->series[k]));
    json_object_set_new(o, "series", series);
    json_t *rejects = json_object();
    for (int r = 1; r < FB_BROKER_NREASONS; r++)
        if (m->rejects[r]) json_object_set_new(rejects, fb_reject_name(r), json_integer((json_int_t)m->rejects[r]));
    json_object_set_new(o, "rejects", rejects);
    json_object_set_new(o, "outbox",
                        m->has_heartbeat ? json_pack("{s:I,s:f}", "depth", (json_int_t)m->outbox_depth,
                                                     "oldest_age_seconds", m->outbox_age_s)
                                         : json_null());
    json_object_set_new(o, "feed",
                        m->has_feed ? json_pack("{s:I,s:I}", "last_delivered_seq", (json_int_t)m->last_delivered,
                                                "lag", (json_int_t)m->lag)
                                    : json_null());
    json_object_set_new(o, "version", m->version[0] ? json_string(m->version) : json_null());
    json_object_set_new(o, "uptime_seconds", m->has_uptime ? json_real(m->uptime_s) : json_null());
    return o;
}

static json_t *s_broker_json(const fb_health_snap_t *s, const char *version)
{
    const fb_health_broker_t *b = &s->broker;
    json_t *pg = json_object();
    json_object_set_new(pg, "reachable", json_boolean(b->pg_up));
    json_object_set_new(pg, "since", s_time_or_null(b->pg_since_us));
    json_object_set_new(pg, "commit_latency_seconds", json_pack("{s:f,s:f}", "p50", s->commit_p50, "p99", s->commit_p99));
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(version));
    json_object_set_new(o, "uptime_seconds", json_real(s->uptime_s));
    json_object_set_new(o, "state", json_string(b->pg_up && b->schema_ok ? "up" : "degraded"));
    json_object_set_new(o, "postgres", pg);
    json_object_set_new(o, "connections", json_integer((json_int_t)s->connections));
    json_object_set_new(o, "batches_in_flight", json_integer((json_int_t)b->batches_in_flight));
    json_object_set_new(o, "global_seq", json_integer((json_int_t)b->global_seq));
    json_object_set_new(o, "thresholds", json_pack("{s:f,s:f}", "stale_seconds", s->stale_s, "down_seconds", s->down_s));
    return o;
}

char *fb_status_json(const fb_health_snap_t *s, const char *version, size_t *len)
{
    char t[40];
    json_t *doc = json_object();
    json_t *members = json_array();
    uint64_t count[FB_HEALTH_NSTATES] = {0};
    for (size_t i = 0; i < s->nmembers; i++) {
        json_array_append_new(members, s_member_json(&s->members[i]));
        count[s->members[i].state]++;
    }
    json_object_set_new(doc, "schema", json_integer(1));
    json_object_set_new(doc, "generated_at", json_string(fb_status_time(s->generated_us, t, sizeof(t))));
    json_object_set_new(doc, "broker", s_broker_json(s, version));
    json_object_set_new(doc, "members", members);
    json_object_set_new(doc, "summary",
                        json_pack("{s:I,s:I,s:I,s:I}", "up", (json_int_t)count[FB_HEALTH_UP], "stale",
                                  (json_int_t)count[FB_HEALTH_STALE], "down", (json_int_t)count[FB_HEALTH_DOWN],
                                  "never", (json_int_t)count[FB_HEALTH_NEVER]));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (text && len) *len = strlen(text);
    return text;
}

/* ------------------------------------------------------------- metrics -- */

static void s_family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_histogram(FILE *f, const char *name, const char *help, const fb_health_hist_t *h)
{
    s_family(f, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < FB_HEALTH_NBUCKETS; i++) {
        cum += h->counts[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, fb_health_buckets[i], (unsigned long long)cum);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name, (unsigned long long)h->count, name,
            h->sum, name, (unsigned long long)h->count);
}

/* The per-member families; each family's samples together, as the format asks. */
static void s_member_metrics(FILE *f, const fb_health_snap_t *s)
{
    const fb_health_member_t *m = s->members;
    size_t n = s->nmembers;
    s_family(f, "fedbus_member_state", "gauge", "1 for the member's current state (up, stale, down, never), 0 for the others.");
    for (size_t i = 0; i < n; i++)
        for (int st = 0; st < FB_HEALTH_NSTATES; st++)
            fprintf(f, "fedbus_member_state{member=\"%s\",state=\"%s\"} %d\n", m[i].id, fb_health_state_name(st),
                    m[i].state == st);
    s_family(f, "fedbus_member_up", "gauge", "1 when the member was heard from within stale-after.");
    for (size_t i = 0; i < n; i++) fprintf(f, "fedbus_member_up{member=\"%s\"} %d\n", m[i].id, m[i].state == FB_HEALTH_UP);
    s_family(f, "fedbus_member_last_seen_timestamp_seconds", "gauge", "When the member was last heard from (unix time; 0: never).");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "fedbus_member_last_seen_timestamp_seconds{member=\"%s\"} %.3f\n", m[i].id, (double)m[i].last_seen_us / 1e6);
    s_family(f, "fedbus_member_messages_total", "counter", "Messages of the member stored since the broker started.");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "fedbus_member_messages_total{member=\"%s\"} %llu\n", m[i].id, (unsigned long long)m[i].messages);
    s_family(f, "fedbus_member_rejects_total", "counter", "Publishes of the member refused since the broker started, by reason.");
    for (size_t i = 0; i < n; i++)
        for (int r = 1; r < FB_BROKER_NREASONS; r++)
            if (m[i].rejects[r])
                fprintf(f, "fedbus_member_rejects_total{member=\"%s\",reason=\"%s\"} %llu\n", m[i].id, fb_reject_name(r),
                        (unsigned long long)m[i].rejects[r]);
    s_family(f, "fedbus_member_outbox_depth", "gauge", "Publishes the member's node holds unconfirmed (its last heartbeat).");
    for (size_t i = 0; i < n; i++)
        if (m[i].has_heartbeat)
            fprintf(f, "fedbus_member_outbox_depth{member=\"%s\"} %llu\n", m[i].id, (unsigned long long)m[i].outbox_depth);
    s_family(f, "fedbus_member_outbox_oldest_age_seconds", "gauge", "Age of the oldest unconfirmed publish (its last heartbeat).");
    for (size_t i = 0; i < n; i++)
        if (m[i].has_heartbeat)
            fprintf(f, "fedbus_member_outbox_oldest_age_seconds{member=\"%s\"} %.3f\n", m[i].id, m[i].outbox_age_s);
    s_family(f, "fedbus_member_feed_lag_messages", "gauge", "The broker's head minus the last global_seq the member's feed delivered.");
    for (size_t i = 0; i < n; i++)
        if (m[i].has_feed)
            fprintf(f, "fedbus_member_feed_lag_messages{member=\"%s\"} %llu\n", m[i].id, (unsigned long long)m[i].lag);
}

char *fb_status_metrics(const fb_health_snap_t *s, const char *version, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return NULL;
    const fb_health_broker_t *b = &s->broker;
    s_family(f, "fedbus_build_info", "gauge", "The broker's version, as a label; always 1.");
    fprintf(f, "fedbus_build_info{version=\"%s\"} 1\n", version);
    s_family(f, "fedbus_uptime_seconds", "gauge", "Seconds since the broker started.");
    fprintf(f, "fedbus_uptime_seconds %.3f\n", s->uptime_s);
    s_family(f, "fedbus_postgres_up", "gauge", "1 when PostgreSQL answered the last probe (once a second).");
    fprintf(f, "fedbus_postgres_up %d\n", b->pg_up);
    s_family(f, "fedbus_postgres_down_since_seconds", "gauge", "Since when PostgreSQL has been unreachable (unix time; 0 when up).");
    fprintf(f, "fedbus_postgres_down_since_seconds %.3f\n", b->pg_up ? 0.0 : (double)b->pg_since_us / 1e6);
    s_family(f, "fedbus_global_seq", "gauge", "The highest global_seq stored.");
    fprintf(f, "fedbus_global_seq %llu\n", (unsigned long long)b->global_seq);
    s_family(f, "fedbus_connections", "gauge", "Members heard from within stale-after.");
    fprintf(f, "fedbus_connections %llu\n", (unsigned long long)s->connections);
    s_family(f, "fedbus_batches_in_flight", "gauge", "Batches being filled or stored.");
    fprintf(f, "fedbus_batches_in_flight %llu\n", (unsigned long long)b->batches_in_flight);
    s_member_metrics(f, s);
    s_histogram(f, "fedbus_ack_latency_seconds", "From a publish read to its ack sent.", &s->ack);
    s_histogram(f, "fedbus_commit_latency_seconds", "The writer's time to store one batch, retries included.", &s->commit);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len) *len = size;
    return buf;
}
