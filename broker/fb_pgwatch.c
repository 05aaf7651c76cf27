/* fb_pgwatch.c — PostgreSQL probed once a second on a connection and thread of its own. */
#include "fb_pgwatch.h"

#include "fb_log.h"
#include "fb_time.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_PERIOD_US 1000000

struct fb_pgwatch {
    char *conninfo;
    pthread_t thread;
    int running;
    int quit; /* atomic */
    pthread_mutex_t lock;
    fb_pgwatch_info_t info; /* under lock */
    PGconn *conn;           /* the thread's */
};

/* Records one probe's outcome; logs a change. */
static void s_set(fb_pgwatch_t *self, int up, int schema, const char *reason)
{
    pthread_mutex_lock(&self->lock);
    int was = self->info.up;
    if (up != was) self->info.since_us = fb_time_now_us();
    self->info.up = up;
    self->info.schema = schema;
    snprintf(self->info.reason, sizeof(self->info.reason), "%s", up ? "" : reason);
    for (char *p = self->info.reason; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    pthread_mutex_unlock(&self->lock);
    if (up && !was) fb_info("postgres: reachable again");
    if (!up && was) fb_warn("postgres: unreachable: %s", reason);
}

/* One probe: connects when needed, reads the schema version. */
static void s_probe(fb_pgwatch_t *self)
{
    if (self->conn && PQstatus(self->conn) != CONNECTION_OK) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    if (!self->conn) {
        const char *keys[] = {"connect_timeout", "dbname", "application_name", NULL};
        const char *vals[] = {"2", self->conninfo, "fedbus-broker health", NULL};
        self->conn = PQconnectdbParams(keys, vals, 1);
        if (!self->conn || PQstatus(self->conn) != CONNECTION_OK) {
            s_set(self, 0, -1, self->conn ? PQerrorMessage(self->conn) : "out of memory");
            PQfinish(self->conn);
            self->conn = NULL;
            return;
        }
        PQclear(PQexec(self->conn, "SET statement_timeout = 2000"));
    }
    PGresult *r = PQexec(self->conn, "SELECT coalesce(max(version), 0) FROM fedbus_schema");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) s_set(self, 1, atoi(PQgetvalue(r, 0, 0)), "");
    else s_set(self, 0, -1, PQerrorMessage(self->conn));
    PQclear(r);
}

static void *s_main(void *arg)
{
    fb_pgwatch_t *self = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!__atomic_load_n(&self->quit, __ATOMIC_RELAXED)) {
        s_probe(self);
        for (int i = 0; i < S_PERIOD_US / 50000 && !__atomic_load_n(&self->quit, __ATOMIC_RELAXED); i++)
            usleep(50000);
    }
    PQfinish(self->conn);
    self->conn = NULL;
    return NULL;
}

fb_pgwatch_t *fb_pgwatch_new(const char *conninfo)
{
    fb_pgwatch_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->info.up = 1;
    self->info.since_us = fb_time_now_us();
    self->info.schema = -1;
    if (!(self->conninfo = strdup(conninfo ? conninfo : ""))) goto error;
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) goto error;
    self->running = 1;
    return self;
error:
    fb_pgwatch_destroy(&self);
    return NULL;
}

void fb_pgwatch_destroy(fb_pgwatch_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_pgwatch_t *self = *self_p;
    __atomic_store_n(&self->quit, 1, __ATOMIC_RELAXED);
    if (self->running) pthread_join(self->thread, NULL);
    free(self->conninfo);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void fb_pgwatch_get(fb_pgwatch_t *self, fb_pgwatch_info_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->info;
    pthread_mutex_unlock(&self->lock);
}
