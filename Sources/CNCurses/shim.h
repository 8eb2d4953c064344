// Thin shim over ncursesw: only what Swift cannot reach directly (macros, and
// attributes built from macros).
#ifndef GPUCTOP_CNCURSES_SHIM_H
#define GPUCTOP_CNCURSES_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <ncursesw/ncurses.h>
#include <ncursesw/term.h>
#include <locale.h>
#include <langinfo.h>

static inline int gpuctop_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int gpuctop_attr_bold(void) { return (int)A_BOLD; }
static inline int gpuctop_attr_dim(void) { return (int)A_DIM; }
static inline int gpuctop_attr_reverse(void) { return (int)A_REVERSE; }
static inline int gpuctop_attr_underline(void) { return (int)A_UNDERLINE; }
static inline int gpuctop_attr_normal(void) { return (int)A_NORMAL; }
static inline int gpuctop_lines(void) { return LINES; }
static inline int gpuctop_cols(void) { return COLS; }
static inline int gpuctop_key_code_yes(void) { return KEY_CODE_YES; }
static inline WINDOW *gpuctop_stdscr(void) { return stdscr; }
static inline int gpuctop_attrset(int attrs) { return attrset(attrs); }
#endif
