// The sandbox's libraries and the cost of their C functions (see script_sandbox.h).
//
// The bounds below come from what each function of Lua 5.4's libraries does (lstrlib, ltablib,
// lutf8lib, lbaselib): a loop over its elements, a copy of its bytes, the matcher's recursion.
// A wrapper computes its charge from the arguments without changing the stack, then calls the
// original C function in its own frame (so the original's argument errors name the function as
// the script called it). Everything here may raise: it runs inside Lua's protected region and
// holds only trivially destructible locals.
#include "strategies/script_sandbox.h"

#include <algorithm>
#include <bitset>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

extern "C" {
#include <lauxlib.h>
#include <lualib.h>
}

namespace tapedeck::strategies::sandbox {
namespace {

// The unit is one VM instruction, about 2 ns on the machine the constants were measured on (the
// 2-core CI machine; docs/strategies.md): a byte copied into a new string (allocation and first
// touch included) costs about one, a step of the pattern matcher two to three, an element moved
// by the table functions about three, memchr/memcmp scan 16 bytes in one.
constexpr double kPerByte = 1;
constexpr double kPerMatchStep = 2.5;
constexpr double kPerElement = 3;
constexpr double kScanBytesPerInstruction = 16;
// The largest charge worth computing; anything near it is refused anyway.
constexpr double kHuge = 1e300;

double Sat(double x) { return std::isfinite(x) ? std::min(x, kHuge) : kHuge; }

// ---- Arguments, read without raising and without changing the stack --------------------------

// The length of the string at idx; a number counts as its longest text; anything else 0.
double StrLen(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
      return static_cast<double>(lua_rawlen(L, idx));
    case LUA_TNUMBER:
      return 64;
    default:
      return 0;
  }
}

// The integer at idx as luaL_optinteger reads it; `def` when absent or not an integer (the
// original raises then, before any work).
lua_Integer IntArg(lua_State* L, int idx, lua_Integer def) {
  if (lua_isnoneornil(L, idx)) return def;
  int isnum = 0;
  const lua_Integer v = lua_tointegerx(L, idx, &isnum);
  return isnum != 0 ? v : def;
}

// Lua's relative string position (negative counts from the end), as a 1-based start.
double StartPos(lua_Integer pos, double len) {
  if (pos > 0) return static_cast<double>(pos);
  if (pos == 0) return 1;
  if (static_cast<double>(pos) < -len) return 1;
  return len + static_cast<double>(pos) + 1;
}
double EndPos(lua_Integer pos, double len) {
  if (static_cast<double>(pos) > len) return len;
  if (pos >= 0) return static_cast<double>(pos);
  if (static_cast<double>(pos) < -len) return 0;
  return len + static_cast<double>(pos) + 1;
}

// The number of positions i..j of a string of `len` bytes (string.byte, utf8.codepoint).
double SpanArgs(lua_State* L, int first, double len, lua_Integer def_i, bool j_defaults_to_i) {
  const double i = StartPos(IntArg(L, first, def_i), len);
  const double j = j_defaults_to_i ? EndPos(IntArg(L, first + 1, static_cast<lua_Integer>(i)), len)
                                   : EndPos(IntArg(L, first + 1, -1), len);
  return j >= i ? j - i + 1 : 0;
}

// #t as the table functions read it (calls __len, which may raise or run Lua).
// Anything else without a __len: 0 (the original refuses it before any work).
double TableLen(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    if (luaL_getmetafield(L, idx, "__len") == LUA_TNIL) return 0;
    lua_pop(L, 1);
  }
  return static_cast<double>(luaL_len(L, idx));
}

double Copy(double bytes) { return bytes * kPerByte; }
double Scan(double bytes) { return bytes / kScanBytesPerInstruction; }

// ---- Patterns ------------------------------------------------------------------------------

using CharSet = std::bitset<256>;

// One item of a Lua pattern, as the matcher walks them.
struct Item {
  enum Kind { kSingle, kBalance, kFrontier, kBackRef, kCapture, kEndAnchor } kind;
  char quant;     // '*', '+', '-', '?' or 0 (kSingle only)
  double cost;    // one singlematch (a set's length for [...]; 1 otherwise)
  CharSet chars;  // the bytes a kSingle matches
};

// Whether byte c is in class %cl, as the matcher reads it (ctype, the process's locale).
bool InClass(int c, int cl) {
  bool res = false;
  switch (std::tolower(cl)) {
    case 'a':
      res = std::isalpha(c) != 0;
      break;
    case 'c':
      res = std::iscntrl(c) != 0;
      break;
    case 'd':
      res = std::isdigit(c) != 0;
      break;
    case 'g':
      res = std::isgraph(c) != 0;
      break;
    case 'l':
      res = std::islower(c) != 0;
      break;
    case 'p':
      res = std::ispunct(c) != 0;
      break;
    case 's':
      res = std::isspace(c) != 0;
      break;
    case 'u':
      res = std::isupper(c) != 0;
      break;
    case 'w':
      res = std::isalnum(c) != 0;
      break;
    case 'x':
      res = std::isxdigit(c) != 0;
      break;
    default:
      return cl == c;
  }
  return std::isupper(cl) != 0 ? !res : res;
}

// The bytes the single-character class [p, ep) matches: '.', %x, [set] or a literal.
CharSet ClassChars(const char* p, const char* ep) {
  CharSet set;
  const auto u = [](char ch) { return static_cast<unsigned char>(ch); };
  for (int c = 0; c < 256; ++c) {
    bool in = false;
    if (*p == '.') {
      in = true;
    } else if (*p == '%' && p + 1 < ep) {
      in = InClass(c, u(p[1]));
    } else if (*p == '[' && ep - p >= 2) {
      const char* q = p;
      const char* close = ep - 1;  // the ']'
      bool sig = true;
      if (q + 1 < close && q[1] == '^') {
        sig = false;
        ++q;
      }
      bool found = false;
      while (!found && ++q < close) {
        if (*q == '%' && q + 1 < close) {
          ++q;
          found = InClass(c, u(*q));
        } else if (q + 2 < close && q[1] == '-') {
          found = u(q[0]) <= c && c <= u(q[2]);
          q += 2;
        } else {
          found = u(*q) == c;
        }
      }
      in = found == sig;
    } else {
      in = u(*p) == c;
    }
    set[static_cast<size_t>(c)] = in;
  }
  return set;
}

// The end of the character class starting at p (as the matcher's classEnd), or `end` when it is
// malformed (the original raises then).
const char* ClassEnd(const char* p, const char* end) {
  if (p >= end) return end;
  const char c = *p++;
  if (c == '%') return p < end ? p + 1 : end;
  if (c == '[') {
    if (p < end && *p == '^') ++p;
    do {
      if (p >= end) return end;
      const char k = *p++;
      if (k == '%') {
        if (p >= end) return end;
        ++p;
      }
    } while (p < end && *p != ']');
    return p < end ? p + 1 : end;
  }
  return p;
}

// Splits a pattern (without its '^' anchor) into items; at most `cap` of them.
size_t ParsePattern(const char* p, size_t plen, Item* items, size_t cap) {
  const char* end = p + plen;
  size_t n = 0;
  while (p < end && n < cap) {
    Item it{Item::kSingle, 0, 1, {}};
    if (*p == '(' || *p == ')') {
      it.kind = Item::kCapture;
      p += (*p == '(' && p + 1 < end && p[1] == ')') ? 2 : 1;
    } else if (*p == '$' && p + 1 == end) {
      it.kind = Item::kEndAnchor;
      ++p;
    } else if (*p == '%' && p + 1 < end && p[1] == 'b') {
      it.kind = Item::kBalance;
      p = std::min(p + 4, end);
    } else if (*p == '%' && p + 1 < end && p[1] == 'f') {
      it.kind = Item::kFrontier;
      const char* e = ClassEnd(p + 2, end);
      it.cost = static_cast<double>(e - p);
      p = e;
    } else if (*p == '%' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
      it.kind = Item::kBackRef;
      p += 2;
    } else {
      const char* e = ClassEnd(p, end);
      if (e == p) e = p + 1;
      it.cost = *p == '[' ? static_cast<double>(e - p) : 1;
      it.chars = ClassChars(p, e);
      p = e;
      if (p < end && (*p == '*' || *p == '+' || *p == '-' || *p == '?')) it.quant = *p++;
    }
    items[n++] = it;
  }
  return n;
}

// What matching the items from some point to the end may cost on a subject of n bytes:
// fail: the most a failing attempt costs (0 when it cannot fail); waste: the most a successful
// attempt costs besides the work on the characters it consumes; consume: the most one consumed
// character costs.
struct PatternCost {
  double fail = 0;
  double waste = 1;
  double consume = 1;
};

// Patterns with more items are charged as unbounded (refused): no script needs one.
constexpr size_t kMaxItems = 4096;

// What trying items [from, count) costs at a byte of `run` when it fails there for certain: the
// first item that must match a byte matches none of run (any before it may match nothing and match
// none of run either). -1 when that is not certain.
double FailInside(const Item* items, size_t from, size_t count, const CharSet& run) {
  double cost = 0;
  for (size_t k = from; k < count; ++k) {
    const Item& it = items[k];
    if (it.kind == Item::kCapture) {
      cost += 1;
      continue;
    }
    if (it.kind != Item::kSingle || (it.chars & run).any()) return -1;
    cost += it.cost + 1;
    if (it.quant == 0 || it.quant == '+') return cost;
  }
  return -1;
}

PatternCost CostOf(const char* p, size_t plen, double n) {
  // Grown to the longest pattern seen (a pattern of n bytes has at most n items), not a
  // thread_local array of kMaxItems: that would be 197 KB zeroed in every thread the process
  // starts, scripts or not.
  static thread_local std::vector<Item> items;
  const size_t cap = std::min(plen, kMaxItems);
  if (items.size() < cap) items.resize(cap);
  const size_t count = ParsePattern(p, plen, items.data(), cap);
  double fail = 0, waste = 1, consume = 1;
  bool never_fails = true;
  for (size_t k = count; k-- > 0;) {
    const Item& it = items[k];
    const double c = it.cost;
    consume = std::max(consume, c);
    switch (it.kind) {
      case Item::kCapture:
        fail = never_fails ? 0 : 1 + fail;
        waste += 1;
        break;
      case Item::kEndAnchor:
        fail = 1;
        waste = 1;
        never_fails = false;
        break;
      case Item::kBalance:
      case Item::kBackRef:
        fail = n + fail;
        waste += 1;
        never_fails = false;
        break;
      case Item::kFrontier:
        fail = c + fail;
        waste += c;
        never_fails = false;
        break;
      case Item::kSingle:
        switch (it.quant) {
          case 0:
            fail = c + fail;
            waste += 1;
            never_fails = false;
            break;
          case '?':
            if (never_fails) {
              waste += c + 2;
            } else {
              waste += c + fail + 2;
              fail = c + 2 * fail + 2;
            }
            break;
          case '*':
          case '+':
            if (never_fails) {
              // The count is all consumed: a rest that cannot fail takes the longest expansion.
              waste += 1;
              fail = it.quant == '*' ? 0 : c;
              never_fails = it.quant == '*';
            } else {
              // Backtracking tries the rest at each byte of the run, then once after it. Inside
              // the run, a rest that starts with a class disjoint from this one fails at once.
              const double inside = FailInside(items.data(), k + 1, count, it.chars);
              const double per_try = inside >= 0 ? inside : fail;
              fail = c * n + n * (per_try + 1) + fail + 1;
              waste += fail;
            }
            break;
          case '-':
            if (never_fails) {
              waste += 1;
            } else {
              fail = (n + 1) * (fail + c + 1);
              waste += fail;
            }
            break;
        }
        break;
    }
    fail = Sat(fail);
    waste = Sat(waste);
  }
  PatternCost out;
  out.fail = fail;
  out.waste = waste;
  out.consume = consume;
  if (count == kMaxItems) out.fail = kHuge;  // not all parsed: no bound
  return out;
}

}  // namespace

double PatternFindCost(const char* p, size_t plen, double n) {
  const bool anchored = plen > 0 && *p == '^';
  if (anchored) ++p, --plen;
  const PatternCost c = CostOf(p, plen, n);
  const double attempts = anchored ? 1 : n + 1;
  return Sat(attempts * c.fail + c.waste + c.consume * n + attempts);
}

double PatternGlobalCost(const char* p, size_t plen, double n, double max_matches) {
  const PatternCost c = CostOf(p, plen, n);
  const double matches = std::min(max_matches, n + 1);
  return Sat((n + 1) * c.fail + matches * c.waste + c.consume * n + 2 * (n + 1));
}

namespace {

bool NoSpecials(const char* p, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (std::strchr("^$*+?.([%-", p[i]) != nullptr && p[i] != '\0') return false;
  }
  return true;
}

// ---- Costs of each wrapped function (instructions) -------------------------------------------

double CostLinear(lua_State* L, const Budget* /*b*/) {
  return 1 + 2 * Copy(StrLen(L, 1));
}  // upper, lower, reverse
double CostArgs(lua_State* L, const Budget* /*b*/) {
  return 1 + kPerElement * lua_gettop(L);
}  // char, pack(...), utf8.char

double CostRep(lua_State* L, const Budget* b) {
  const lua_Integer n = IntArg(L, 2, 0);
  if (n <= 0) return 1;
  const double count = static_cast<double>(n);
  const double bytes = count * StrLen(L, 1) + (count - 1) * StrLen(L, 3);
  // The result's buffer is allocated before the copy loop: one that cannot fit fails on memory
  // first. An empty result (s and sep empty) still loops n times.
  if (bytes > static_cast<double>(b->memory_limit - std::min(b->memory_used, b->memory_limit))) {
    return 1;
  }
  return Sat(count + Copy(bytes));
}

double CostSub(lua_State* L, const Budget* /*b*/) {
  const double len = StrLen(L, 1);
  const double i = StartPos(IntArg(L, 2, 1), len);
  const double j = EndPos(IntArg(L, 3, -1), len);
  return 1 + Copy(j >= i ? j - i + 1 : 0);
}

double CostByte(lua_State* L, const Budget* /*b*/) {
  return 1 + SpanArgs(L, 2, StrLen(L, 1), 1, true);
}

// The subject's bytes from init on (find, match, gmatch).
double Remaining(lua_State* L, int init_idx) {
  const double len = StrLen(L, 1);
  const double init = StartPos(IntArg(L, init_idx, 1), len);
  return init > len + 1 ? 0 : len - init + 1;
}

// Whether argument 2 is a pattern the original accepts. A number is turned into its text in place,
// as luaL_checklstring in the original does anyway.
bool IsPattern(lua_State* L) {
  return lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER;
}

double CostFindOrMatch(lua_State* L, bool find) {
  if (!IsPattern(L)) return 1;
  const double n = Remaining(L, 3);
  size_t plen = 0;
  const char* p = lua_tolstring(L, 2, &plen);
  if (find && (lua_toboolean(L, 4) != 0 || NoSpecials(p, plen))) {
    // memchr finds the first byte; at each place it is found, memcmp compares the rest.
    const double m = static_cast<double>(plen);
    return Sat(1 + (m <= 1 ? Scan(n) : n * (kPerElement + Scan(m))));
  }
  return Sat(kPerMatchStep * PatternFindCost(p, plen, n));
}
double CostFind(lua_State* L, const Budget* /*b*/) { return CostFindOrMatch(L, true); }
double CostMatch(lua_State* L, const Budget* /*b*/) { return CostFindOrMatch(L, false); }

double CostGmatch(lua_State* L, const Budget* /*b*/) {
  if (!IsPattern(L)) return 1;
  size_t plen = 0;
  const char* p = lua_tolstring(L, 2, &plen);
  // gmatch has no anchor: a '^' is an ordinary character there.
  return Sat(kPerMatchStep * PatternGlobalCost(p, plen, Remaining(L, 3), kHuge));
}

double CostGsub(lua_State* L, const Budget* /*b*/) {
  if (!IsPattern(L)) return 1;
  size_t plen = 0;
  const char* p = lua_tolstring(L, 2, &plen);
  const double n = StrLen(L, 1);
  double max = static_cast<double>(IntArg(L, 4, LUA_MAXINTEGER));
  if (max < 0) max = 0;
  double cost = 0;
  if (plen > 0 && *p == '^') {
    max = std::min(max, 1.0);
    cost = PatternFindCost(p, plen, n);
  } else {
    cost = PatternGlobalCost(p, plen, n, max);
  }
  // Each match appends the replacement (its text is walked for %1...).
  return Sat(kPerMatchStep * cost + std::min(max, n + 1) * Copy(1 + StrLen(L, 3)));
}

double CostFormat(lua_State* L, const Budget* /*b*/) {
  double bytes = 0;
  for (int i = 1, top = lua_gettop(L); i <= top; ++i) bytes += StrLen(L, i);
  return 1 + kPerElement * lua_gettop(L) + 2 * Copy(bytes);  // %q walks it byte by byte
}

double CostPack(lua_State* L, const Budget* /*b*/) {
  double bytes = 0;
  for (int i = 2, top = lua_gettop(L); i <= top; ++i) bytes += StrLen(L, i);
  return 1 + kPerElement * lua_gettop(L) + StrLen(L, 1) + Copy(bytes);
}

double CostUnpack(lua_State* L, const Budget* /*b*/) {
  return 1 + StrLen(L, 1) + Copy(StrLen(L, 2));
}
double CostFormatOnly(lua_State* L, const Budget* /*b*/) { return 1 + StrLen(L, 1); }  // packsize

double CostConcat(lua_State* L, const Budget* /*b*/) {
  const double i = static_cast<double>(IntArg(L, 3, 1));
  const double j = lua_isnoneornil(L, 4) ? TableLen(L, 1) : static_cast<double>(IntArg(L, 4, 0));
  return 1 + 8 * (j >= i ? j - i + 1 : 0);  // a lookup and a buffer append each
}

double CostInsert(lua_State* L, const Budget* /*b*/) {
  if (lua_gettop(L) != 3) return 1;
  const double e = TableLen(L, 1) + 1;
  const double pos = static_cast<double>(IntArg(L, 2, 0));
  return 1 + kPerElement * (e > pos ? e - pos : 0);
}

double CostRemove(lua_State* L, const Budget* /*b*/) {
  const double size = TableLen(L, 1);
  const double pos = static_cast<double>(IntArg(L, 2, static_cast<lua_Integer>(size)));
  return 1 + kPerElement * (size > pos ? size - pos : 0);
}

double CostMove(lua_State* L, const Budget* /*b*/) {
  const double f = static_cast<double>(IntArg(L, 2, 0));
  const double e = static_cast<double>(IntArg(L, 3, 0));
  return 1 + kPerElement * (e >= f ? e - f + 1 : 0);
}

double CostUnpackTable(lua_State* L, const Budget* /*b*/) {
  const double i = static_cast<double>(IntArg(L, 2, 1));
  const double j = lua_isnoneornil(L, 3) ? TableLen(L, 1) : static_cast<double>(IntArg(L, 3, 0));
  // Beyond Lua's stack limit the original refuses ("too many results to unpack") by itself.
  return 1 + kPerElement * std::min(j >= i ? j - i + 1 : 0, 1e6);
}

double CostSort(lua_State* L, const Budget* /*b*/) {
  const double n = TableLen(L, 1);
  if (n < 2) return 1;
  return Sat(1 + 8 * n * (std::log2(n) + 1));  // about 20 ns a comparison and swap
}

double CostUtf8Span(lua_State* L, const Budget* /*b*/) {  // utf8.codepoint(s, i, j)
  return 1 + SpanArgs(L, 2, StrLen(L, 1), 1, true);
}
double CostUtf8Len(lua_State* L, const Budget* /*b*/) {
  return 1 + Copy(StrLen(L, 1));
}  // utf8.len, utf8.offset

double CostRawequal(lua_State* L, const Budget* /*b*/) {
  if (lua_type(L, 1) != LUA_TSTRING || lua_type(L, 2) != LUA_TSTRING) return 1;
  return 1 + Scan(std::min(StrLen(L, 1), StrLen(L, 2)));
}

double CostTonumber(lua_State* L, const Budget* /*b*/) {  // a number is returned as it is
  return 1 + (lua_type(L, 1) == LUA_TSTRING ? Copy(StrLen(L, 1)) : 0);
}

// One step of utf8.codes' iterator: it skips the continuation bytes after position i.
double CostCodesStep(lua_State* L, const Budget* /*b*/) {
  if (lua_type(L, 1) != LUA_TSTRING) return 1;
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  lua_Integer i = IntArg(L, 2, 0);
  if (i < 0) return 1;
  double skipped = 0;
  for (auto k = static_cast<size_t>(i); k < len && (s[k] & 0xC0) == 0x80; ++k) skipped += 1;
  return 1 + skipped;
}

// ---- Wrapping ------------------------------------------------------------------------------

using CostFn = double (*)(lua_State*, const Budget*);

// Upvalues: 1 the original C function, 2 the Budget (light userdata), 3 the name for messages.
template <CostFn cost>
int Wrapped(lua_State* L) {
  auto* b = static_cast<Budget*>(lua_touserdata(L, lua_upvalueindex(2)));
  Charge(L, b, cost(L, b), lua_tostring(L, lua_upvalueindex(3)));
  // The original runs in this frame: same arguments, and its errors name the function as called.
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

void PushWrapper(lua_State* L, lua_CFunction wrapper, int original, Budget* b, const char* name) {
  lua_pushvalue(L, original);
  lua_pushlightuserdata(L, b);
  lua_pushstring(L, name);
  lua_pushcclosure(L, wrapper, 3);
}

// utf8.codes: the iterator it returns charges each step.
int WrappedCodes(lua_State* L) {
  auto* b = static_cast<Budget*>(lua_touserdata(L, lua_upvalueindex(2)));
  Charge(L, b, 1, "utf8.codes");
  const int n = lua_tocfunction(L, lua_upvalueindex(1))(L);
  if (n >= 1 && lua_iscfunction(L, -n)) {
    PushWrapper(L, Wrapped<CostCodesStep>, -n, b, "utf8.codes");
    lua_replace(L, -n - 1);
  }
  return n;
}

struct Wrap {
  const char* lib;  // nullptr: the global table
  const char* name;
  lua_CFunction wrapper;
};

constexpr Wrap kWraps[] = {
    {LUA_STRLIBNAME, "byte", Wrapped<CostByte>},
    {LUA_STRLIBNAME, "char", Wrapped<CostArgs>},
    {LUA_STRLIBNAME, "find", Wrapped<CostFind>},
    {LUA_STRLIBNAME, "format", Wrapped<CostFormat>},
    {LUA_STRLIBNAME, "gmatch", Wrapped<CostGmatch>},
    {LUA_STRLIBNAME, "gsub", Wrapped<CostGsub>},
    {LUA_STRLIBNAME, "lower", Wrapped<CostLinear>},
    {LUA_STRLIBNAME, "match", Wrapped<CostMatch>},
    {LUA_STRLIBNAME, "pack", Wrapped<CostPack>},
    {LUA_STRLIBNAME, "packsize", Wrapped<CostFormatOnly>},
    {LUA_STRLIBNAME, "rep", Wrapped<CostRep>},
    {LUA_STRLIBNAME, "reverse", Wrapped<CostLinear>},
    {LUA_STRLIBNAME, "sub", Wrapped<CostSub>},
    {LUA_STRLIBNAME, "unpack", Wrapped<CostUnpack>},
    {LUA_STRLIBNAME, "upper", Wrapped<CostLinear>},
    {LUA_TABLIBNAME, "concat", Wrapped<CostConcat>},
    {LUA_TABLIBNAME, "insert", Wrapped<CostInsert>},
    {LUA_TABLIBNAME, "move", Wrapped<CostMove>},
    {LUA_TABLIBNAME, "pack", Wrapped<CostArgs>},
    {LUA_TABLIBNAME, "remove", Wrapped<CostRemove>},
    {LUA_TABLIBNAME, "sort", Wrapped<CostSort>},
    {LUA_TABLIBNAME, "unpack", Wrapped<CostUnpackTable>},
    {LUA_UTF8LIBNAME, "char", Wrapped<CostArgs>},
    {LUA_UTF8LIBNAME, "codepoint", Wrapped<CostUtf8Span>},
    {LUA_UTF8LIBNAME, "codes", WrappedCodes},
    {LUA_UTF8LIBNAME, "len", Wrapped<CostUtf8Len>},
    {LUA_UTF8LIBNAME, "offset", Wrapped<CostUtf8Len>},
    {nullptr, "rawequal", Wrapped<CostRawequal>},
    {nullptr, "tonumber", Wrapped<CostTonumber>},
};

int LuaCollectGarbage(lua_State* L) {
  const char* opt = luaL_optstring(L, 1, "count");
  if (std::strcmp(opt, "count") != 0) {
    luaL_error(L, "collectgarbage: only \"count\" is available in a strategy");
  }
  auto* b = static_cast<Budget*>(lua_touserdata(L, lua_upvalueindex(1)));
  lua_pushnumber(L, static_cast<double>(b->memory_used) / 1024.0);
  return 1;
}

// ---- pairs in an order that is the same in every run ------------------------------------------
//
// Lua's own pairs visits keys in hash order, and Lua seeds its string hashes per state from the
// clock and addresses: the same script over the same data could trade differently from one run to
// the next. This pairs visits numbers (ascending), then strings (bytewise), then false and true,
// then any other keys (tables, functions: they have no order that holds from run to run). It
// snapshots the keys when called and, like next, reads values raw; a key whose value has become
// nil since is skipped. A __pairs metamethod is honoured as in Lua's pairs.

constexpr double kPairsPerKey = 24;      // collecting a key and returning it, in instructions
constexpr double kPairsPerCompare = 12;  // one comparison of the sort

int KeyClass(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      return 0;
    case LUA_TSTRING:
      return 1;
    case LUA_TBOOLEAN:
      return 2;
    default:
      return 3;
  }
}

// Whether the key at stack index a goes before the one at b. Raises nothing: lua_compare on two
// numbers calls no metamethod.
bool KeyLess(lua_State* L, int a, int b) {
  const int ca = KeyClass(L, a);
  const int cb = KeyClass(L, b);
  if (ca != cb) return ca < cb;
  switch (ca) {
    case 0:
      return lua_compare(L, a, b, LUA_OPLT) != 0;
    case 1: {
      size_t la = 0;
      size_t lb = 0;
      const char* sa = lua_tolstring(L, a, &la);
      const char* sb = lua_tolstring(L, b, &lb);
      const int c = std::memcmp(sa, sb, std::min(la, lb));
      return c < 0 || (c == 0 && la < lb);
    }
    case 2:
      return lua_toboolean(L, a) == 0 && lua_toboolean(L, b) != 0;
    default:
      return false;
  }
}

// keys[i] < keys[j] for the array at stack index `keys`.
bool KeysLess(lua_State* L, int keys, lua_Integer i, lua_Integer j) {
  lua_rawgeti(L, keys, i);
  lua_rawgeti(L, keys, j);
  const bool less = KeyLess(L, -2, -1);
  lua_pop(L, 2);
  return less;
}

// Swaps keys[i] and keys[j]: existing array slots, so nothing is allocated.
void SwapKeys(lua_State* L, int keys, lua_Integer i, lua_Integer j) {
  lua_rawgeti(L, keys, i);
  lua_rawgeti(L, keys, j);
  lua_rawseti(L, keys, i);
  lua_rawseti(L, keys, j);
}

// Heapsort of keys[1..n] (no recursion, no allocation).
void SortKeys(lua_State* L, int keys, lua_Integer n) {
  auto sift = [&](lua_Integer root, lua_Integer end) {
    while (2 * root <= end) {
      lua_Integer child = 2 * root;
      if (child < end && KeysLess(L, keys, child, child + 1)) ++child;
      if (!KeysLess(L, keys, root, child)) return;
      SwapKeys(L, keys, root, child);
      root = child;
    }
  };
  for (lua_Integer i = n / 2; i >= 1; --i) sift(i, n);
  for (lua_Integer end = n; end > 1; --end) {
    SwapKeys(L, keys, 1, end);
    sift(1, end - 1);
  }
}

// The iterator: upvalue 1 the sorted keys, upvalue 2 the position reached.
int PairsNext(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const int keys = lua_upvalueindex(1);
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, keys));
  lua_Integer pos = lua_tointeger(L, lua_upvalueindex(2));
  while (pos < n) {
    ++pos;
    lua_rawgeti(L, keys, pos);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 1) != LUA_TNIL) {
      lua_pushinteger(L, pos);
      lua_replace(L, lua_upvalueindex(2));
      return 2;
    }
    lua_pop(L, 2);
  }
  lua_pushinteger(L, pos);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushnil(L);
  return 1;
}

int LuaPairs(lua_State* L) {
  luaL_checkany(L, 1);
  if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
    lua_pushvalue(L, 1);
    lua_call(L, 1, 3);
    return 3;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  auto* b = static_cast<Budget*>(lua_touserdata(L, lua_upvalueindex(1)));
  lua_settop(L, 1);
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pop(L, 1);
    ++n;
  }
  const double count = static_cast<double>(n);
  Charge(L, b, count * kPairsPerKey + count * std::log2(count + 1) * 2 * kPairsPerCompare, "pairs");
  if (n > INT32_MAX) luaL_error(L, "pairs: too many keys");
  lua_createtable(L, static_cast<int>(n), 0);
  lua_Integer i = 0;
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, 2, ++i);
  }
  SortKeys(L, 2, n);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, PairsNext, 2);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

void RemoveField(lua_State* L, int table, const char* name) {
  lua_pushnil(L);
  lua_setfield(L, table, name);
}

}  // namespace

int CurrentLine(lua_State* L) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) != 0 && ar.currentline > 0) return ar.currentline;
  }
  return 0;
}

void Charge(lua_State* L, Budget* b, double instructions, const char* what) {
  if (b->cause == nullptr) {
    const double left = static_cast<double>(b->instruction_limit) -
                        static_cast<double>(std::min(b->instructions, b->instruction_limit));
    if (!(instructions <= left)) {
      b->cause = "instructions";
      b->cause_line = CurrentLine(L);
      std::snprintf(b->cause_detail, sizeof b->cause_detail,
                    "%s would need up to %.3g instructions with these arguments, %.3g are left",
                    what, instructions, left);
    } else {
      const auto n = static_cast<uint64_t>(instructions);
      b->instructions += n;
      b->charged_since_clock += n;
      if (b->charged_since_clock >= kClockEvery) {
        b->charged_since_clock = 0;
        if (Clock::now() > b->deadline) {
          b->cause = "wall_time";
          b->cause_line = CurrentLine(L);
        }
      }
    }
  }
  if (b->cause != nullptr) {
    // As in the hook: from now on every instruction of this thread fails.
    lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
    luaL_error(L, "%s budget exceeded", b->cause);
  }
}

bool ChargeBlock(Budget* b, size_t bytes) {
  if (b->cause != nullptr) return false;
  const uint64_t n = static_cast<uint64_t>(Scan(static_cast<double>(bytes))) + 1;
  if (b->instructions > b->instruction_limit || n > b->instruction_limit - b->instructions) {
    b->cause = "instructions";
    std::snprintf(b->cause_detail, sizeof b->cause_detail,
                  "a block of %zu bytes costs %zu instructions, %.3g are left", bytes,
                  static_cast<size_t>(n),
                  static_cast<double>(b->instruction_limit -
                                      std::min(b->instructions, b->instruction_limit)));
    return false;
  }
  b->instructions += n;
  b->charged_since_clock += n;
  if (b->charged_since_clock >= kClockEvery) {
    b->charged_since_clock = 0;
    if (Clock::now() > b->deadline) {
      b->cause = "wall_time";
      return false;
    }
  }
  return true;
}

void OpenLibraries(lua_State* L, Budget* b, uint64_t seed) {
  static const luaL_Reg kLibs[] = {
      {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
      {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
      {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine}};
  for (const luaL_Reg& lib : kLibs) {
    luaL_requiref(L, lib.name, lib.func, 1);
    lua_pop(L, 1);
  }
  lua_pushglobaltable(L);
  const int g = lua_gettop(L);
  for (const char* name :
       {"dofile", "loadfile", "load", "loadstring", "require", "warn", "print"}) {
    RemoveField(L, g, name);
  }
  lua_pushlightuserdata(L, b);
  lua_pushcclosure(L, LuaCollectGarbage, 1);
  lua_setfield(L, g, "collectgarbage");
  lua_pushlightuserdata(L, b);
  lua_pushcclosure(L, LuaPairs, 1);
  lua_setfield(L, g, "pairs");

  // Every table of kWraps is the one the script sees (string's also as the strings' __index),
  // so a method call ("x"):rep(n) goes through the wrapper too.
  for (const Wrap& w : kWraps) {
    if (w.lib != nullptr) {
      lua_getfield(L, g, w.lib);
    } else {
      lua_pushvalue(L, g);
    }
    const int lib = lua_gettop(L);
    lua_getfield(L, lib, w.name);
    if (lua_iscfunction(L, -1)) {
      char full[64];
      std::snprintf(full, sizeof full, "%s%s%s", w.lib != nullptr ? w.lib : "",
                    w.lib != nullptr ? "." : "", w.name);
      PushWrapper(L, w.wrapper, lua_gettop(L), b, full);
      lua_setfield(L, lib, w.name);
    }
    lua_settop(L, g);
  }

  lua_getfield(L, g, LUA_STRLIBNAME);
  RemoveField(L, lua_gettop(L), "dump");
  lua_pop(L, 1);
  // The strings' metatable: getmetatable("") returns false and setmetatable refuses strings, so
  // neither it nor its __index can be reached (string.* itself belongs to this state alone).
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  lua_getfield(L, g, LUA_MATHLIBNAME);
  lua_getfield(L, -1, "randomseed");
  lua_pushinteger(L, static_cast<lua_Integer>(seed));
  lua_call(L, 1, 0);
  RemoveField(L, lua_gettop(L), "randomseed");
  lua_settop(L, g - 1);
}

}  // namespace tapedeck::strategies::sandbox
