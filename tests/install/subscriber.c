/* subscriber.c — a partner's program built against the installed libfedbus with pkg-config alone.
 *
 * It uses nothing but <fedbus/fedbus.h>: reads the member's key files,
 * publishes one event straight to the broker's ingest, subscribes to its
 * own events from the first global_seq and prints what it gets back, one
 * fact a line, for tests/install/install_test.sh to check:
 *
 *   subscriber INGEST FEED REPLAY KEYS BROKER_KEY   publish, then receive it
 *   subscriber --check-keys KEYS BROKER_KEY         only read the key files
 *
 * Exit status 0 when everything worked, 1 otherwise (the reason on stderr). */
#include <fedbus/fedbus.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads the key files, printing "keys MEMBER" or "keys refused: REASON". */
static int s_keys(fb_client_keys_t *k, const char *keys_file, const char *broker_key)
{
    char err[512];
    int rc = fb_client_keys_load(k, keys_file, broker_key, err, sizeof(err));
    if (rc != FB_OK) {
        printf("keys refused: %s (%s)\n", err, fb_strerror(rc));
        return -1;
    }
    printf("keys %s\n", k->member);
    return 0;
}

/* Publishes one event of this member, origin_seq 1 (a fresh database);
 * returns its global_seq, or 0 after saying why. */
static uint64_t s_publish(const char *ingest, const fb_client_keys_t *k)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"topic\":\"event.%s.forum\",\"origin\":\"%s\",\"origin_seq\":1,"
             "\"event\":{\"kind\":\"forum\",\"title\":{\"ko\":\"리옹 파트너 포럼\",\"en\":\"Lyon partner forum\"},"
             "\"starts_at\":\"2026-05-20T14:00:00+02:00\"}}",
             k->member, k->member);
    fb_endpoint_opts_t o = {.endpoint = ingest};
    fb_client_keys_apply(k, &o);
    fb_publisher_t *pub = fb_publisher_open(&o);
    if (!pub) {
        fprintf(stderr, "subscriber: cannot open a publisher to %s\n", ingest);
        return 0;
    }
    fb_ack_t ack;
    int rc = fb_publisher_send_json(pub, json, strlen(json), &ack, 10000);
    fb_publisher_destroy(&pub);
    if (rc != FB_OK) {
        fprintf(stderr, "subscriber: publish: %s %s %s\n", fb_strerror(rc), ack.reason_name, ack.detail);
        return 0;
    }
    printf("published %s global_seq=%llu\n", ack.message_id, (unsigned long long)ack.global_seq);
    return ack.global_seq;
}

/* Subscribes to this member's events from from_seq and prints the first. */
static int s_receive(const char *feed, const char *replay, const fb_client_keys_t *k, uint64_t from_seq)
{
    fb_endpoint_opts_t fo = {.endpoint = feed}, ro = {.endpoint = replay};
    fb_client_keys_apply(k, &fo);
    fb_client_keys_apply(k, &ro);
    fb_subscriber_t *sub = fb_subscriber_open(&fo, &ro);
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "event.%s", k->member);
    if (!sub || fb_subscriber_add(sub, pattern) != FB_OK || fb_subscriber_from(sub, from_seq) != FB_OK) {
        fprintf(stderr, "subscriber: cannot subscribe to %s on %s\n", pattern, feed);
        fb_subscriber_destroy(&sub);
        return -1;
    }
    fb_message_t msg;
    int rc = fb_subscriber_recv(sub, &msg, 15000);
    if (rc != FB_OK) {
        fprintf(stderr, "subscriber: receive: %s\n", fb_strerror(rc));
        fb_subscriber_destroy(&sub);
        return -1;
    }
    printf("received %s global_seq=%llu origin=%s kind=%s\n", msg.topic, (unsigned long long)msg.global_seq,
           msg.origin, fb_message_kind(&msg));
    printf("title en=%s\n", fb_message_title(&msg, "en"));
    printf("title ko=%s\n", fb_message_title(&msg, "ko"));
    char *line = fb_message_json(&msg);
    printf("json %s\n", line ? line : "(none)");
    free(line);
    fb_subscriber_destroy(&sub);
    return 0;
}

int main(int argc, char **argv)
{
    printf("fedbus %s\n", fb_version());
    fb_client_keys_t k;
    if (argc == 4 && strcmp(argv[1], "--check-keys") == 0) {
        int rc = s_keys(&k, argv[2], argv[3]);
        fb_client_keys_clear(&k);
        return rc == 0 ? 0 : 1;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: subscriber INGEST FEED REPLAY KEYS BROKER_KEY | --check-keys KEYS BROKER_KEY\n");
        return 1;
    }
    if (s_keys(&k, argv[4], argv[5]) != 0) return 1;
    uint64_t seq = s_publish(argv[1], &k);
    int rc = seq ? s_receive(argv[2], argv[3], &k, seq) : -1;
    fb_client_keys_clear(&k);
    return rc == 0 ? 0 : 1;
}
