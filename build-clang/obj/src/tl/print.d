build-clang/obj/src/tl/print.o: src/tl/print.c include/mtproto/tl.h \
  include/mtproto/common.h src/tl/json_int.h src/util/util.h

include/mtproto/tl.h:

include/mtproto/common.h:

src/tl/json_int.h:

src/util/util.h:
