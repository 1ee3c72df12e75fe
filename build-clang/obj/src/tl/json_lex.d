build-clang/obj/src/tl/json_lex.o: src/tl/json_lex.c src/tl/json_int.h \
  include/mtproto/tl.h include/mtproto/common.h src/util/util.h

src/tl/json_int.h:

include/mtproto/tl.h:

include/mtproto/common.h:

src/util/util.h:
