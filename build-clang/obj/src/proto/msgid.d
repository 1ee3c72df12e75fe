build-clang/obj/src/proto/msgid.o: src/proto/msgid.c \
  include/mtproto/session.h include/mtproto/common.h \
  include/mtproto/crypto.h include/mtproto/envelope.h \
  src/proto/session_int.h include/mtproto/tl.h src/util/util.h

include/mtproto/session.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

src/proto/session_int.h:

include/mtproto/tl.h:

src/util/util.h:
