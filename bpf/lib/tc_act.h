/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tc_act.h - verdicts of tc programs (linux/pkt_cls.h, which vmlinux.h
 * lacks as macros). Under tcx, TC_ACT_UNSPEC is TCX_NEXT: on to the next
 * program, then the stack; TC_ACT_OK ends the chain and passes the packet. */
#ifndef MB_LIB_TC_ACT_H
#define MB_LIB_TC_ACT_H

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

#endif
