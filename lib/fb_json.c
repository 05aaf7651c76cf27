/* fb_json.c — descriptor-driven JSON <-> protobuf-c mapping (see fb_json.h). */
#include "fb_json.h"

#include "fb_crypto.h"
#include "fb_time.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TIMESTAMP "fedbus.Timestamp"

/* ---------------------------------------------------------------- enums --- */

/* Writes the upper-snake prefix of an enum ("EventKind" -> "EVENT_KIND_"). */
static void s_enum_prefix(const ProtobufCEnumDescriptor *e, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = e->short_name; *p && o + 3 < size; p++) {
        if (isupper((unsigned char)*p) && p != e->short_name) out[o++] = '_';
        out[o++] = (char)toupper((unsigned char)*p);
    }
    out[o++] = '_';
    out[o] = '\0';
}

static json_t *s_enum_to_json(const ProtobufCEnumDescriptor *e, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
    if (!v) return json_integer(value); /* a value newer than this build */
    char prefix[96], name[128];
    s_enum_prefix(e, prefix, sizeof(prefix));
    const char *n = v->name;
    if (strncmp(n, prefix, strlen(prefix)) == 0) n += strlen(prefix);
    size_t i = 0;
    for (; n[i] && i + 1 < sizeof(name); i++) name[i] = (char)tolower((unsigned char)n[i]);
    name[i] = '\0';
    return json_string(name);
}

/* Writes "unknown enum value 'x'; one of: a, b, c" (the names JSON takes,
 * *_UNSPECIFIED left out) into out: a mistyped value names the right ones. */
static void s_enum_unknown(const ProtobufCEnumDescriptor *e, const json_t *j, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "unknown enum value");
    if (json_is_string(j) && o < size) o += (size_t)snprintf(out + o, size - o, " '%.40s'", json_string_value(j));
    for (unsigned i = 0, n = 0; i < e->n_values && o < size; i++) {
        if (e->values[i].value == 0) continue;
        json_t *name = s_enum_to_json(e, e->values[i].value);
        if (name) o += (size_t)snprintf(out + o, size - o, "%s%s", n++ ? ", " : "; one of: ", json_string_value(name));
        json_decref(name);
    }
}

static int s_enum_from_json(const ProtobufCEnumDescriptor *e, const json_t *j, int *value)
{
    if (json_is_integer(j)) {
        json_int_t n = json_integer_value(j);
        /* Out of int32 would wrap to another value; 0 is *_UNSPECIFIED, refused
         * by number as by name. */
        if (n < INT32_MIN || n > INT32_MAX || n == 0) return -1;
        *value = (int)n;
        return protobuf_c_enum_descriptor_get_value(e, *value) ? 0 : -1;
    }
    if (!json_is_string(j)) return -1;
    char prefix[96], name[160];
    s_enum_prefix(e, prefix, sizeof(prefix));
    const char *s = json_string_value(j);
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(name); i++) name[i] = (char)toupper((unsigned char)s[i]);
    name[i] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(e, name);
    if (!v && strlen(prefix) + strlen(name) < sizeof(name)) {
        char full[256];
        snprintf(full, sizeof(full), "%s%s", prefix, name);
        v = protobuf_c_enum_descriptor_get_value_by_name(e, full);
    }
    if (!v || v->value == 0) return -1; /* *_UNSPECIFIED is never written on purpose */
    *value = v->value;
    return 0;
}

/* ---------------------------------------------------------- to JSON ------ */

static json_t *s_bytes_to_json(const ProtobufCFieldDescriptor *f, const ProtobufCBinaryData *b)
{
    if (strcmp(f->name, "message_id") == 0 && b->len == FB_UUID_LEN) {
        char u[37];
        fb_uuid_format(b->data, u);
        return json_string(u);
    }
    char *hex = malloc(b->len * 2 + 1);
    if (!hex) return NULL;
    for (size_t i = 0; i < b->len; i++) snprintf(hex + 2 * i, 3, "%02x", b->data[i]);
    hex[b->len * 2] = '\0';
    json_t *j = json_string(hex);
    free(hex);
    return j;
}

/* Returns the JSON value of one element at p, or NULL for "leave it out"
 * (*oom set on allocation failure). */
static json_t *s_value_to_json(const ProtobufCFieldDescriptor *f, const void *p, int omit_zero,
                               int *oom)
{
    json_t *j = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (omit_zero && *(const int32_t *)p == 0) return NULL;
        j = json_integer(*(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (omit_zero && *(const uint32_t *)p == 0) return NULL;
        j = json_integer(*(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (omit_zero && *(const int64_t *)p == 0) return NULL;
        j = json_integer(*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (omit_zero && *(const uint64_t *)p == 0) return NULL;
        j = json_integer((json_int_t)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        if (omit_zero && *(const float *)p == 0) return NULL;
        j = json_real(*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (omit_zero && *(const double *)p == 0) return NULL;
        j = json_real(*(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        if (omit_zero && !*(const protobuf_c_boolean *)p) return NULL;
        j = json_boolean(*(const protobuf_c_boolean *)p);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        if (omit_zero && *(const int *)p == 0) return NULL;
        j = s_enum_to_json(f->descriptor, *(const int *)p);
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        if (!s || (omit_zero && !*s)) return NULL;
        j = json_string(s);
        if (!j) return NULL; /* not UTF-8: validation refuses it before here */
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        if (omit_zero && b->len == 0) return NULL;
        j = s_bytes_to_json(f, b);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (!m) return NULL;
        if (strcmp(m->descriptor->name, S_TIMESTAMP) == 0) {
            const int64_t *us = (const int64_t *)((const char *)m + m->descriptor->fields[0].offset);
            const int32_t *off = (const int32_t *)((const char *)m + m->descriptor->fields[1].offset);
            char buf[48];
            if (fb_time_format(*us, *off, buf, sizeof(buf)) < 0) return NULL;
            j = json_string(buf);
        } else {
            j = fb_json_from_message(m);
        }
        break;
    }
    }
    if (!j) *oom = 1;
    return j;
}

json_t *fb_json_from_message(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *obj = json_object();
    int oom = 0;
    if (!obj) return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg;
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0) continue;
            const char *arr = *(char *const *)(base + f->offset);
            size_t step = f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING
                              ? sizeof(void *)
                              : f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
                              : (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
                                 f->type == PROTOBUF_C_TYPE_SINT64 || f->type == PROTOBUF_C_TYPE_FIXED64 ||
                                 f->type == PROTOBUF_C_TYPE_SFIXED64 || f->type == PROTOBUF_C_TYPE_DOUBLE)
                                  ? 8
                              : f->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                              : 4;
            v = json_array();
            if (!v) goto oom;
            for (size_t k = 0; k < n; k++) {
                json_t *e = s_value_to_json(f, arr + k * step, 0, &oom);
                if (oom) {
                    json_decref(v);
                    goto oom;
                }
                if (e) json_array_append_new(v, e);
            }
        } else {
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
            v = s_value_to_json(f, base + f->offset, !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF), &oom);
            if (oom) goto oom;
            if (!v) continue;
        }
        if (json_object_set_new(obj, f->name, v) != 0) goto oom;
    }
    return obj;
oom:
    json_decref(obj);
    return NULL;
}

/* -------------------------------------------------------- from JSON ------ */

typedef struct {
    char *err;
    size_t size;
} s_err_t;

static int s_fail(s_err_t *e, const char *path, const char *what)
{
    snprintf(e->err, e->size, "%s: %s", path, what);
    return -1;
}

static int s_message_from_json(const json_t *obj, const ProtobufCMessageDescriptor *d,
                               ProtobufCMessage **out, const char *path, s_err_t *e);

static int s_hex_decode(const char *s, ProtobufCBinaryData *b)
{
    size_t len = strlen(s);
    if (len % 2) return -1;
    b->data = malloc(len / 2 ? len / 2 : 1);
    if (!b->data) return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
            sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(b->data);
            b->data = NULL;
            return -1;
        }
        b->data[i] = (uint8_t)v;
    }
    b->len = len / 2;
    return 0;
}

static int s_int_in(const json_t *j, json_int_t lo, json_int_t hi, json_int_t *v)
{
    if (!json_is_integer(j)) return -1;
    *v = json_integer_value(j);
    return (*v < lo || *v > hi) ? -1 : 0;
}

/* Stores one JSON value j into the element at p. */
static int s_value_from_json(const ProtobufCFieldDescriptor *f, const json_t *j, void *p,
                             const char *path, s_err_t *e)
{
    json_int_t v;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (s_int_in(j, INT32_MIN, INT32_MAX, &v)) return s_fail(e, path, "expected a 32-bit integer");
        *(int32_t *)p = (int32_t)v;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (s_int_in(j, 0, UINT32_MAX, &v)) return s_fail(e, path, "expected an unsigned 32-bit integer");
        *(uint32_t *)p = (uint32_t)v;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (s_int_in(j, INT64_MIN, INT64_MAX, &v)) return s_fail(e, path, "expected an integer");
        *(int64_t *)p = v;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (s_int_in(j, 0, INT64_MAX, &v)) return s_fail(e, path, "expected a non-negative integer");
        *(uint64_t *)p = (uint64_t)v;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (!json_is_number(j)) return s_fail(e, path, "expected a number");
        *(float *)p = (float)json_number_value(j);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!json_is_number(j)) return s_fail(e, path, "expected a number");
        *(double *)p = json_number_value(j);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(j)) return s_fail(e, path, "expected true or false");
        *(protobuf_c_boolean *)p = json_is_true(j);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int val;
        if (s_enum_from_json(f->descriptor, j, &val)) {
            char why[160];
            s_enum_unknown(f->descriptor, j, why, sizeof(why));
            return s_fail(e, path, why);
        }
        *(int *)p = val;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(j)) return s_fail(e, path, "expected a string");
        if (strlen(json_string_value(j)) != json_string_length(j))
            return s_fail(e, path, "string holds a NUL character");
        char *s = strdup(json_string_value(j));
        if (!s) return s_fail(e, path, "out of memory");
        *(char **)p = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        if (!json_is_string(j)) return s_fail(e, path, "expected a string");
        const char *s = json_string_value(j);
        if (strcmp(f->name, "message_id") == 0) {
            b->data = malloc(FB_UUID_LEN);
            if (!b->data) return s_fail(e, path, "out of memory");
            if (fb_uuid_parse(s, b->data)) {
                free(b->data);
                b->data = NULL;
                return s_fail(e, path, "expected a UUID");
            }
            b->len = FB_UUID_LEN;
            return 0;
        }
        if (s_hex_decode(s, b)) return s_fail(e, path, "expected hex digits");
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        if (strcmp(md->name, S_TIMESTAMP) == 0) {
            int64_t us;
            int off;
            if (!json_is_string(j) || fb_time_parse(json_string_value(j), &us, &off))
                return s_fail(e, path, "expected an RFC 3339 time such as 2026-03-12T14:00:00+09:00");
            ProtobufCMessage *m = malloc(md->sizeof_message);
            if (!m) return s_fail(e, path, "out of memory");
            protobuf_c_message_init(md, m);
            *(int64_t *)((char *)m + md->fields[0].offset) = us;
            *(int32_t *)((char *)m + md->fields[1].offset) = off;
            *(ProtobufCMessage **)p = m;
            return 0;
        }
        return s_message_from_json(j, md, (ProtobufCMessage **)p, path, e);
    }
    }
    return s_fail(e, path, "unsupported field type");
}

static size_t s_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

static int s_message_from_json(const json_t *obj, const ProtobufCMessageDescriptor *d,
                               ProtobufCMessage **out, const char *path, s_err_t *e)
{
    char sub[256];
    if (!json_is_object(obj)) return s_fail(e, path, "expected an object");
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (!m) return s_fail(e, path, "out of memory");
    protobuf_c_message_init(d, m);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f) {
            s_fail(e, sub, "unknown field");
            goto error;
        }
        if (json_is_null(val)) continue;
        char *base = (char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!json_is_array(val)) {
                s_fail(e, sub, "expected an array");
                goto error;
            }
            size_t n = json_array_size(val), es = s_elem_size(f);
            if (n == 0) continue;
            char *arr = calloc(n, es);
            if (!arr) {
                s_fail(e, sub, "out of memory");
                goto error;
            }
            *(char **)(base + f->offset) = arr;
            size_t *count = (size_t *)(base + f->quantifier_offset);
            for (size_t k = 0; k < n; k++) {
                char el[280];
                snprintf(el, sizeof(el), "%s[%zu]", sub, k);
                if (s_value_from_json(f, json_array_get(val, k), arr + k * es, el, e)) goto error;
                (*count)++;
            }
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
                if (*which != 0) {
                    s_fail(e, sub, "only one payload kind may be set");
                    goto error;
                }
                if (s_value_from_json(f, val, base + f->offset, sub, e)) goto error;
                *which = f->id;
            } else if (s_value_from_json(f, val, base + f->offset, sub, e)) {
                goto error;
            }
        }
    }
    *out = m;
    return 0;
error:
    protobuf_c_message_free_unpacked(m, NULL);
    return -1;
}

int fb_json_to_message(const json_t *obj, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out, char *err, size_t err_size)
{
    s_err_t e = {err, err_size};
    *out = NULL;
    return s_message_from_json(obj, desc, out, "", &e);
}
