/* test_message.c — a delivered message's headline and kind, read lazily from its envelope bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fb_arena.h"
#include "fb_client_int.h"
#include "fb_envelope.h"
#include "fedbus/fb_client.h"

static uint8_t s_id[16] = {0x01, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 1};

/* Packs env, fills msg from the bytes in arena; the bytes live in the arena too. */
static void s_fill(fb_arena_t *arena, Fedbus__Envelope *env, fb_message_t *msg)
{
    env->message_id.data = s_id;
    env->message_id.len = sizeof(s_id);
    env->created_at_us = 1764633600000000LL;
    env->origin_seq = 1;
    size_t n = fedbus__envelope__get_packed_size(env);
    uint8_t *raw = fb_arena_alloc(arena, n);
    assert_non_null(raw);
    assert_int_equal(fedbus__envelope__pack(env, raw), n);
    assert_int_equal(fb_message_fill(arena, msg, raw, n), 0);
}

static void test_a_member_state_change_reads_member_from_and_to(void **state)
{
    (void)state;
    fb_arena_t *arena = fb_arena_new(4096, 4096);
    assert_non_null(arena);
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    Fedbus__MemberState st = FEDBUS__MEMBER_STATE__INIT;
    st.member = "kr-busan";
    st.from_state = "up";
    st.to_state = "stale";
    env.origin = "_fedbus";
    env.topic = "_fedbus.health";
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_MEMBER_STATE;
    env.member_state = &st;
    fb_message_t msg;
    s_fill(arena, &env, &msg);
    assert_string_equal(fb_message_title(&msg, "en"), "kr-busan: up -> stale");
    assert_string_equal(fb_message_title(&msg, "ko"), "kr-busan: up -> stale");
    assert_string_equal(fb_message_kind(&msg), FB_KIND_MEMBER_STATE);
    fb_arena_destroy(&arena);
}

static void test_a_member_state_without_states_shows_question_marks_and_without_member_nothing(void **state)
{
    (void)state;
    fb_arena_t *arena = fb_arena_new(4096, 4096);
    assert_non_null(arena);
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    Fedbus__MemberState st = FEDBUS__MEMBER_STATE__INIT;
    st.member = "intl-lyon";
    env.origin = "_fedbus";
    env.topic = "_fedbus.health";
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_MEMBER_STATE;
    env.member_state = &st;
    fb_message_t msg;
    s_fill(arena, &env, &msg);
    assert_string_equal(fb_message_title(&msg, "en"), "intl-lyon: ? -> ?");
    st.member = "";
    s_fill(arena, &env, &msg);
    assert_string_equal(fb_message_title(&msg, "en"), "");
    fb_arena_destroy(&arena);
}

static void test_an_event_title_falls_back_to_the_other_language(void **state)
{
    (void)state;
    fb_arena_t *arena = fb_arena_new(4096, 4096);
    assert_non_null(arena);
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    Fedbus__Event ev = FEDBUS__EVENT__INIT;
    Fedbus__Text title = FEDBUS__TEXT__INIT;
    title.ko = "인천 과학기술 포럼";
    title.en = "";
    ev.title = &title;
    env.origin = "kr-incheon";
    env.topic = "event.kr-incheon.forum";
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    env.event = &ev;
    fb_message_t msg;
    s_fill(arena, &env, &msg);
    assert_string_equal(fb_message_title(&msg, "en"), "인천 과학기술 포럼");
    assert_string_equal(fb_message_kind(&msg), "event");
    fb_arena_destroy(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_member_state_change_reads_member_from_and_to),
        cmocka_unit_test(test_a_member_state_without_states_shows_question_marks_and_without_member_nothing),
        cmocka_unit_test(test_an_event_title_falls_back_to_the_other_language),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
