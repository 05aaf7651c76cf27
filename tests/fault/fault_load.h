/* fault_load.h — the fault suite's load and its witnesses: four members publishing through
 * their nodes, two subscribers (one slow), and the end-of-run checks against PostgreSQL. */
#ifndef FAULT_LOAD_H
#define FAULT_LOAD_H

#include "harness.h"

#define FL_MEMBERS 4

/* The four members, in node order (node i of the th_t publishes as FL_MEMBER[i]). */
extern const char *const FL_MEMBER[FL_MEMBERS];

typedef struct fl_run fl_run_t;

/* Prepares a run over t's nodes 0..3 and broker: rate publishes per second
 * per member. Returns a new run, which the caller frees with fl_run_destroy(). */
fl_run_t *fl_run_new(th_t *t, int rate);

/* Frees the run (stopping its threads first); accepts NULL and nulls *self_p. */
void fl_run_destroy(fl_run_t **self_p);

/* Starts the two subscribers (from global_seq 1) and the four publishers. */
void fl_start(fl_run_t *self);

/* Marks now as the start (fl_fault_begin) or end (fl_fault_end) of the fault
 * window; the ack gaps are reported with it. */
void fl_fault_begin(fl_run_t *self);
void fl_fault_end(fl_run_t *self);

/* Stops publishing new messages; each publisher keeps retrying its last one
 * (same message_id) for up to settle_s seconds, as a client would. Then waits
 * up to settle_s seconds for both subscribers to reach the last stored
 * message they match, and stops them. */
void fl_stop(fl_run_t *self, int settle_s);

/* Publishes told accepted (FB_OK) so far by member i's publisher, and of
 * those while the broker was down (between fl_broker_down(self, 1) and
 * fl_broker_down(self, 0)). */
long fl_told_accepted(fl_run_t *self, int i);
long fl_told_accepted_broker_down(fl_run_t *self, int i);
void fl_broker_down(fl_run_t *self, int down);

/* Checks the promises and prints the counts as "fault SCENARIO: ...":
 * every publish told accepted is stored exactly once (by message_id); no
 * honest publish was rejected; each subscriber delivered exactly the stored
 * messages it matches, once each, in global_seq order; member i's longest
 * time without an ack stayed within max_gap_ms[i]. Fails the test on the
 * first broken promise after printing everything. */
void fl_check(fl_run_t *self, const char *scenario, const int max_gap_ms[FL_MEMBERS]);

#endif
