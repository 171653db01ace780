/*
 * tests.h - the battery as data: one X-macro row per test, giving its name
 * (the function is t_<name>), the capabilities it needs, an availability
 * probe (or NULL) and a one-line summary. tests.c turns the rows into the
 * table the runner registers against every mechanism.
 */
#ifndef IPCQ_CONFORMANCE_TESTS_H
#define IPCQ_CONFORMANCE_TESTS_H

#include "check.h"

/* Short for the rows below. */
#define CT_PROC IPCQ_CAP_PROCESS
#define CT_TESTS(X)                                                                                          \
	/* registry, statuses, configuration, arguments */                                                  \
	X(registry_consistent, 0, NULL, "find/at/count/name/caps agree; names unique")                      \
	X(strstatus_names_every_status, 0, NULL, "ipcq_strstatus names every status, and no bad value")      \
	X(config_defaults, 0, NULL, "ipcq_get_config reports the mechanism's defaults")                     \
	X(config_explicit_honoured, 0, NULL, "capacity and max_msg asked are the ones in force")             \
	X(big_config_honoured_or_limit, 0, NULL, "a large config is given exactly or refused as LIMIT")      \
	X(inval_bad_args, 0, NULL, "NULL handles/buffers, bad roles and flags give INVAL, queue unharmed")   \
	X(errmsg_after_failure, 0, NULL, "ipcq_errmsg explains INVAL, TOOBIG, CLOSED and a failed open")    \
	/* bytes and boundaries */                                                                          \
	X(round_trip, 0, NULL, "one message out and back, nothing written past it")                         \
	X(bytes_all_256_values, 0, NULL, "every byte value, and frame-header look-alikes, pass unchanged")  \
	X(fifo_order, 0, NULL, "1000 messages of varied size arrive in order")                               \
	X(no_merge_no_split, 0, NULL, "sizes 1..8192 around PIPE_BUF keep their boundaries")                 \
	X(zerolen_round_trip, IPCQ_CAP_ZEROLEN, NULL, "zero-length messages are messages")                  \
	X(zerolen_not_eof, IPCQ_CAP_ZEROLEN | IPCQ_CAP_EOF, NULL, "a zero-length message never reads as EOF") \
	X(max_msg_exact, 0, NULL, "exactly max_msg passes; max_msg+1 is TOOBIG")                             \
	X(put_toobig_nothing_queued, 0, NULL, "put beyond max_msg is TOOBIG and queues nothing")             \
	X(get_toobig_keeps_message, 0, NULL, "get into a small buffer: TOOBIG, *len = size, message kept")   \
	X(toobig_leaves_message_for_other_process, CT_PROC, NULL, "a TOOBIG in one process leaves it for another") \
	X(max_msg_default_size, 0, NULL, "a message of the default max_msg passes with a reader")            \
	X(huge_16mib_plus_1, IPCQ_CAP_HUGE, NULL, "two 16 MiB+1 messages with a concurrent reader")          \
	X(huge_toobig_then_whole, IPCQ_CAP_HUGE, NULL, "TOOBIG while a 16 MiB+1 message is being written")   \
	X(qsize_quiescent, IPCQ_CAP_QSIZE, NULL, "qsize/empty/full are exact when nothing moves")             \
	X(qsize_across_processes, IPCQ_CAP_QSIZE | CT_PROC, NULL, "qsize counts what another process put")         \
	X(capacity_exact, IPCQ_CAP_BOUNDED, NULL, "capacity 4 holds exactly 4 messages, capacity 1 one")     \
	/* waiting */                                                                                       \
	X(nowait_get_empty, 0, NULL, "NOWAIT get/poll on empty: EMPTY at once; a put is visible at once")   \
	X(nowait_put_full_then_room, 0, NULL, "NOWAIT puts until FULL; one get makes room for one")          \
	X(timed_get_empty, 0, NULL, "timed get: never early, late by at most max(50 ms, 25%)")              \
	X(timed_put_full, 0, NULL, "timed put on a full queue: never early, not late")                      \
	X(timed_poll_empty, 0, NULL, "timed poll: never early, not late")                                    \
	X(negative_timeout_waits, 0, NULL, "any negative timeout waits until done")                          \
	X(get_blocks_until_put, 0, NULL, "a get sleeps (/proc state S) until a put")                         \
	X(put_blocks_until_room, 0, NULL, "a put on a full queue sleeps until a get")                        \
	X(poll_ready_nonconsuming, 0, NULL, "poll says OK with a message ready and never consumes")         \
	X(poll_wakes_on_put, 0, NULL, "a sleeping poll wakes on a put")                                      \
	X(poll_sees_messages_read_ahead, IPCQ_CAP_MPMC | CT_PROC, NULL, "a poll asleep while another consumer takes one of two messages still wakes") \
	X(poll_ok_means_get_succeeds, IPCQ_CAP_HUGE, NULL, "poll says OK only once a 16 MiB put is whole: then a NOWAIT get has it") \
	X(signals_get_timeout_sigalrm, 0, NULL, "SIGALRM every 2 ms (no SA_RESTART): get/poll timeouts hold") \
	X(signals_get_timeout_sigusr1_restart, 0, NULL, "SIGUSR1 every 2 ms (SA_RESTART): timeouts hold")    \
	X(signals_get_no_data_loss, 0, NULL, "signals during blocking gets lose and reorder nothing")        \
	X(signals_put_timeout, 0, NULL, "signals during a timed put on a full queue: timeout holds")         \
	X(signals_put_no_data_loss, 0, NULL, "signals during blocking puts lose and reorder nothing")        \
	X(signals_huge_put_no_tear, IPCQ_CAP_HUGE, NULL, "3 MiB puts interrupted by signals stay whole")    \
	X(ops_leave_signal_state_alone, 0, NULL, "calls leave the signal mask and SIGPIPE as they were")    \
	/* many producers and consumers, fork */                                                            \
	X(mpmc_4x4, IPCQ_CAP_MPMC, NULL, "4 producers x 4 consumers x 2000: no loss, duplicate or reorder")  \
	X(mpmc_4x4_until_eof, IPCQ_CAP_MPMC | IPCQ_CAP_EOF, NULL, "4 x 4 ended by EOF: every consumer ends") \
	X(threads_share_one_handle, IPCQ_CAP_MPMC, NULL, "2+2 threads on one handle: every message once")   \
	X(fork_with_pending_items, CT_PROC, NULL, "a child gets what the parent put before fork")                  \
	X(close_in_child_keeps_queue, CT_PROC, NULL, "a child's close leaves the parent's queue whole")             \
	/* EOF */                                                                                           \
	X(eof_after_drain, IPCQ_CAP_EOF, NULL, "release(PRODUCER): messages drain, then EOF, and it stays")  \
	X(eof_after_drain_child, IPCQ_CAP_EOF | CT_PROC, NULL, "a child puts 50 and releases: 50 then EOF")       \
	X(eof_producer_exit_counts, IPCQ_CAP_EOF | CT_PROC, NULL, "a producer exiting without release is gone")    \
	X(eof_waits_for_every_producer, IPCQ_CAP_EOF | CT_PROC, NULL, "one of two producers released: EMPTY, not EOF") \
	X(last_release_wakes_all, IPCQ_CAP_EOF, NULL, "the last release wakes 3 sleeping consumers with EOF") \
	X(producer_sigkill_eof, IPCQ_CAP_EOF | CT_PROC, NULL, "producer SIGKILLed: a blocked consumer gets EOF")  \
	X(idle_consumer_sigkill_goes_on, IPCQ_CAP_MPMC | CT_PROC, NULL, "a consumer SIGKILLed while blocked on an empty queue: the queue goes on") \
	X(waiting_put_sigkill_goes_on, IPCQ_CAP_FD | IPCQ_CAP_MPMC | CT_PROC, NULL, "a producer SIGKILLed while its 6000-byte put waits for room: the queue goes on") \
	X(huge_put_sigkill_no_tear, IPCQ_CAP_HUGE | IPCQ_CAP_MPMC | CT_PROC, NULL, "producer SIGKILLed inside an 8 MiB put: no part of it is read as another message") \
	/* BROKEN and CLOSED */                                                                             \
	X(put_no_consumer_broken, IPCQ_CAP_EOF, NULL, "no consumer left: put is BROKEN, no SIGPIPE death")  \
	X(put_dead_consumer_broken_sigdfl, IPCQ_CAP_EOF | CT_PROC, NULL, "consumer SIGKILLed under a blocked put: BROKEN, SIGPIPE at SIG_DFL kept") \
	X(put_dead_consumer_broken_handler, IPCQ_CAP_EOF | CT_PROC, NULL, "the same with a user SIGPIPE handler, kept as set") \
	X(put_dead_consumer_broken_sigign, IPCQ_CAP_EOF | CT_PROC, NULL, "the same with SIGPIPE ignored and IPCQ_SIGPIPE_IGNORED") \
	X(sigpipe_flag_needs_sig_ign, 0, NULL, "IPCQ_SIGPIPE_IGNORED while SIGPIPE is not ignored: INVAL, names the fix") \
	X(use_after_close_closed, 0, NULL, "every call after close, second close included, says CLOSED")     \
	X(put_after_release_producer_closed, 0, NULL, "put after release(PRODUCER) is CLOSED; get still works") \
	X(get_after_release_consumer_closed, 0, NULL, "get/poll after release(CONSUMER) are CLOSED")         \
	/* opened by name, by processes that share no ancestry (tests_named.c) */                          \
	X(named_bad_names_inval, IPCQ_CAP_NAMED, NULL, "empty, 300-byte, blank, control-character, leading-dot and slashed names: INVAL naming the name") \
	X(named_pipe_inval, IPCQ_CAP_NAMED, NULL, "ipcq_pipe with a name is INVAL: both directions would be one queue") \
	X(named_config_mismatch_inval, IPCQ_CAP_NAMED, t_named_usable, "a second open with another capacity or max_msg: INVAL naming the one in force; the same: one queue") \
	X(named_gone_after_last_close, IPCQ_CAP_NAMED, t_named_usable, "a 200-byte name opens; after the last close a name opens afresh: empty, any config") \
	X(named_two_processes, IPCQ_CAP_NAMED | IPCQ_CAP_EOF, t_named_usable, "an unrelated process gets 300 through capacity 4, then EOF; and puts 300 back") \
	X(named_fork_child_holds, IPCQ_CAP_NAMED | IPCQ_CAP_EOF | CT_PROC, t_named_usable, "a forked child holds the producer role at once: the parent's release is no EOF") \
	X(named_released_producer_eof, IPCQ_CAP_NAMED | IPCQ_CAP_EOF, t_named_usable, "an unrelated producer's release (still alive): drain, then EOF, and it stays") \
	X(named_sigkill_producer_eof, IPCQ_CAP_NAMED | IPCQ_CAP_EOF, t_named_usable, "an unrelated producer SIGKILLed: drain, then EOF") \
	X(named_sigkill_consumer_broken, IPCQ_CAP_NAMED | IPCQ_CAP_EOF | IPCQ_CAP_BOUNDED, t_named_usable, "the only consumer SIGKILLed under a put on a full queue: BROKEN") \
	X(named_lease_stopped_producer, IPCQ_CAP_NAMED | IPCQ_CAP_EOF, t_named_leases, "a SIGSTOPped producer's lease runs out: EOF; woken, its put is CLOSED") \
	X(named_lease_release_wakes_at_once, IPCQ_CAP_NAMED | IPCQ_CAP_EOF, t_named_leases, "a release wakes a blocked get with EOF at once, not at a lease or chunk timer") \
	/* pipes */                                                                                         \
	X(pipe_oneway_baddir, 0, NULL, "one-way pipe: send on a / recv on b are BADDIR")                     \
	X(pipe_duplex_both_ways, 0, NULL, "duplex pipe: both directions at once, no crossing")              \
	X(pipe_duplex_across_fork, CT_PROC | IPCQ_CAP_EOF, NULL, "duplex pipe: 200 echoes with a child, EOF ends it") \
	X(pipe_recv_eof_after_close, IPCQ_CAP_EOF, NULL, "recv drains then says EOF once the other end closed") \
	X(pipe_recv_eof_in_child, CT_PROC | IPCQ_CAP_EOF, NULL, "the same with the receiver in a child")          \
	X(pipe_send_to_closed_end_broken, IPCQ_CAP_EOF, NULL, "send towards a closed end is BROKEN")        \
	X(conn_use_after_close_closed, 0, NULL, "send/recv/poll/close on a closed end say CLOSED")           \
	/* resources */                                                                                     \
	X(fd_count_stable_queues, 0, NULL, "1000 queue open/close cycles leave no descriptor")              \
	X(fd_count_stable_pipes, 0, NULL, "1000 pipe open/close cycles leave no descriptor")                \
	X(fd_count_stable_failed_opens, 0, NULL, "failed opens leave no descriptor")                        \
	X(no_leaked_names_after_close, CT_PROC, t_names_listable, "no /dev/shm or mqueue name left after close")   \
	X(no_leaked_names_after_sigkill, CT_PROC, t_names_listable, "none left after the creator is SIGKILLed") \
	/* many messages a call */                                                                          \
	X(many_round_trip_in_order, 0, NULL, "put_many/get_many, mixed with put/get: bytes, sizes and order kept") \
	X(many_bad_args_queue_unharmed, 0, NULL, "bad arguments INVAL, a bad message TOOBIG naming it, nothing queued; CLOSED after release") \
	X(many_toobig_stays_queued, 0, NULL, "a message too big for its room ends the run and stays; first, it is TOOBIG with its size") \
	X(many_full_and_timeouts, IPCQ_CAP_BOUNDED, NULL, "put_many fills to capacity then FULL, done says how many; timed FULL and EMPTY hold") \
	X(many_eof_after_drain, IPCQ_CAP_EOF, NULL, "get_many drains what put_many queued, then EOF") \
	X(many_across_processes, IPCQ_CAP_EOF | CT_PROC, NULL, "3000 messages in bursts of 1-17 through capacity 8 across fork, then EOF") \
	X(many_threads_share_one_handle, IPCQ_CAP_MPMC, NULL, "2 put_many + 2 get_many threads on one handle: each message once") \
	/* zero copy */                                                                                     \
	X(zerocopy_unsupported_without_cap, 0, NULL, "reserve/commit/cancel/peek/consume: UNSUPPORTED without IPCQ_CAP_ZEROCOPY") \
	X(zc_round_trip_mixed_with_copies, IPCQ_CAP_ZEROCOPY, NULL, "in place in and out, mixed with put/get, several outstanding") \
	X(zc_wrong_buffers_inval, IPCQ_CAP_ZEROCOPY, NULL, "foreign, ended or mismatched buffers INVAL; TOOBIG; CLOSED after release") \
	X(zc_cancel_queues_nothing, IPCQ_CAP_ZEROCOPY | IPCQ_CAP_QSIZE, NULL, "cancel queues nothing and frees the room, ahead of a message too") \
	X(zc_capacity_and_fifo, IPCQ_CAP_ZEROCOPY | IPCQ_CAP_BOUNDED, NULL, "reservations and holds take room; FIFO waits behind a reservation") \
	X(zc_peek_sleeps_until_commit, IPCQ_CAP_ZEROCOPY, NULL, "a peek sleeps (/proc state S) until a commit") \
	X(zc_release_ends_reservations, IPCQ_CAP_ZEROCOPY, NULL, "release(PRODUCER) drops open reservations: drain, then EOF") \
	X(zc_close_ends_holds, IPCQ_CAP_ZEROCOPY | CT_PROC, NULL, "a live process closing with a message held frees its room") \
	X(zc_flow_across_processes, IPCQ_CAP_ZEROCOPY | IPCQ_CAP_EOF | CT_PROC, NULL, "3000 messages written and read in place across fork, then EOF") \
	X(zc_producer_sigkill_before_commit, IPCQ_CAP_ZEROCOPY | CT_PROC, NULL, "SIGKILL between reserve and commit: never seen, ring goes on, EOF") \
	X(zc_consumer_sigkill_before_consume, IPCQ_CAP_ZEROCOPY | CT_PROC, NULL, "SIGKILL between peek and consume: room comes back, no other loss") \
	X(zc_threads_share_one_handle, IPCQ_CAP_ZEROCOPY | IPCQ_CAP_MPMC, NULL, "2 reserving + 2 peeking threads on one handle: each message once") \
	/* named queues */                                                                                  \
	X(named_unsupported_without_cap, 0, NULL, "cfg.name without IPCQ_CAP_NAMED: open is UNSUPPORTED")  \
	X(named_two_opens_one_queue, IPCQ_CAP_NAMED, t_named_usable, "two opens of a name in one process are one queue; get_config names it") \
	/* shared values */                                                                                 \
	X(shared_unsupported_without_cap, 0, NULL, "ipcq_shared_open: OK with IPCQ_CAP_SHARED, else UNSUPPORTED") \
	X(shared_set_get, IPCQ_CAP_SHARED, NULL, "set/get round trip, EMPTY for a missing key, TOOBIG both ways") \
	X(shared_add_cas, IPCQ_CAP_SHARED, NULL, "add and cas on int64 values; INVAL on other sizes, TOOBIG in a table of max_msg < 8")        \
	X(shared_key_and_table_limits, IPCQ_CAP_SHARED, NULL, "64-byte keys pass, 65 are INVAL; a full table names capacity") \
	X(shared_add_across_fork, IPCQ_CAP_SHARED | CT_PROC, NULL, "4 processes x 5000 adds give the exact sum") \
	/* pool */                                                                                          \
	X(pool_bad_config, 0, NULL, "workers 0 and bad modes are INVAL; PROCESS without the cap UNSUPPORTED")   \
	X(pool_apply_round_trip, CT_PROC, NULL, "apply: bytes there and back, in a worker; small buffer TOOBIG") \
	X(pool_apply_async_callbacks, CT_PROC, NULL, "10000 apply_async: every callback once, right result")   \
	X(pool_map_chunks_in_order, CT_PROC, NULL, "map: results in order; a chunk runs on one worker")        \
	X(pool_use_after_close_closed, 0, NULL, "after close: submits and close CLOSED; after join all CLOSED") \
	X(pool_worker_sigkill_peerdead, CT_PROC, NULL, "worker SIGKILLed mid-task: that task PEERDEAD, replaced") \
	X(pool_kills_under_load, CT_PROC, NULL, "30000 tasks, a worker SIGKILLed every 1500: each callback once, OK or PEERDEAD") \
	X(pool_worker_death_fails_chunk, CT_PROC, NULL, "a task kills its worker: its chunk PEERDEAD, map goes on") \
	X(pool_terminate_in_flight, CT_PROC, NULL, "terminate with tasks running: join returns, CLOSED, no zombie") \
	X(pool_big_args_flow, CT_PROC, NULL, "3000 tasks with 4000-byte args and results: no deadlock, bytes intact") \
	X(pool_result_toobig, CT_PROC, NULL, "a result beyond max_out and an arg beyond max_arg are TOOBIG")   \
	X(pool_thread_tasks, IPCQ_CAP_MPMC, NULL, "THREAD pool: apply, 2000 apply_async and map, in this process") \
	X(pool_fd_count_stable, 0, NULL, "50 pool open/close (or terminate) cycles leave no descriptor, no child") \
	X(pool_workers_die_with_owner, CT_PROC, NULL, "an owner exiting without join takes its workers with it") \
	X(pool_nested_wait_refused, IPCQ_CAP_MPMC, NULL, "callbacks waiting inside callbacks: INVAL beyond IPCQ_POOL_MAX_DEPTH, never a hang") \
	X(pool_terminate_results_full, IPCQ_CAP_MPMC, NULL, "THREAD pool terminated while workers wait for room for results: join returns") \
	X(pool_close_join_no_new_workers, CT_PROC, NULL, "close + join while one task runs: idle workers end, none is forked again") \
	X(pool_task_exit0_after_close, CT_PROC, NULL, "a task exits its worker with status 0 after close: PEERDEAD, the rest run, join returns")

#define CT_DECLARE(name, caps, avail, summary) void t_##name(const struct ct_ctx *c);
CT_TESTS(CT_DECLARE)
#undef CT_DECLARE

/* Availability probe: /dev/shm and the mqueue names can be listed. */
bool t_names_listable(const ipcq_mech *m, char *why, size_t cap);
/* Availability probe: a queue of m opens by name here (a named mechanism may need a server). */
bool t_named_usable(const ipcq_mech *m, char *why, size_t cap);
/* The same, and m keeps named queues with expiring leases (redis): stopped holders count as gone. */
bool t_named_leases(const ipcq_mech *m, char *why, size_t cap);

#endif /* IPCQ_CONFORMANCE_TESTS_H */
