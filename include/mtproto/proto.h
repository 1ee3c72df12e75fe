/*
 * libmtproto — the sans-IO MTProto core (umbrella header).
 *
 * Nothing here does I/O or reads a clock: bytes and the current time (mtp_usec_t) go in;
 * bytes to send, events and the next deadline come out. Client and server are two roles of
 * the same objects.
 */
#ifndef MTPROTO_PROTO_H
#define MTPROTO_PROTO_H

#include <mtproto/common.h>
#include <mtproto/tl.h>
#include <mtproto/crypto.h>
#include <mtproto/transport.h>
#include <mtproto/envelope.h>
#include <mtproto/handshake.h>
#include <mtproto/session.h>
#include <mtproto/conn.h>

#endif
