/*
 * test-normalize.c - tokens, offsets, obfuscation, shouting, limits
 */
#include <string.h>

#include <glib.h>

#include "normalize.h"
#include "unit.h"

/*
 * Input, the token texts joined by spaces, and the ORIGINAL bytes each
 * token must cut out of the input (tab separated).
 */
static const struct {
	const char *in;
	const char *joined;
	const char *slices;
} toks[] = {
    /* plain words, case, accents, NFKC */
    {"Hello, World", "hello world", "Hello\tWorld"},
    {"caf\xc3\xa9 na\xc3\xafve", "cafe naive", "caf\xc3\xa9\tna\xc3\xafve"},
    {"Stra\xc3\x9f"
     "e",
     "strasse",
     "Stra\xc3\x9f"
     "e"},
    {"\xef\xbc\xa6\xef\xbd\x95\xef\xbd\x83\xef\xbd\x8b off", "fuck off",
     "\xef\xbc\xa6\xef\xbd\x95\xef\xbd\x83\xef\xbd\x8b\toff"},
    /* decomposed accent (e + U+0301) stays in its word */
    {"cafe\xcc\x81!", "cafe", "cafe\xcc\x81"},
    /* apostrophes kept inside, quotes outside; hyphens split */
    {"don't won\xe2\x80\x99t 'quoted'", "don't won't quoted",
     "don't\twon\xe2\x80\x99t\tquoted"},
    {"e-mail self-righteous", "e mail self righteous",
     "e\tmail\tself\trighteous"},
    /* leet */
    {"sh1t", "shit", "sh1t"},
    {"@ss", "ass", "@ss"},
    {"$hit", "shit", "$hit"},
    {"1d10t!", "idiot", "1d10t"},
    {"a$$hole", "asshole", "a$$hole"},
    {"b1tch", "bitch", "b1tch"},
    /* numbers and model names stay */
    {"2024 19 $19 mp3 b2b 4g covid19 24h", "2024 19 19 mp3 b2b 4g covid19 24h",
     "2024\t19\t19\tmp3\tb2b\t4g\tcovid19\t24h"},
    {"US$100 3rd 1st a55", "us 100 3rd 1st a55", "US\t100\t3rd\t1st\ta55"},
    {"0x00ff00", "0x00ff00", "0x00ff00"},
    {"@support", "support", "support"},
    /* masks */
    {"f*ck f**k sh!t a**hole", "f*ck f**k sh*t a**hole",
     "f*ck\tf**k\tsh!t\ta**hole"},
    {"f#ck f%ck", "f*ck f*ck", "f#ck\tf%ck"},
    {"f*** you", "f*** you", "f***\tyou"},
    {"idiot! idiot!!! stupid?", "idiot idiot stupid", "idiot\tidiot\tstupid"},
    {"*important* free* ****", "important free", "important\tfree"},
    {"hello!!!!!world Hi!!!Bob", "hello world hi bob", "hello\tworld\tHi\tBob"},
    {"bullsh!t motherf*cker idiot!you", "bullsh*t motherf*cker idiot you",
     "bullsh!t\tmotherf*cker\tidiot\tyou"},
    /* separators between single letters */
    {"You f.u.c.k.i.n.g idiot", "you fucking idiot",
     "You\tf.u.c.k.i.n.g\tidiot"},
    {"f u c k off", "fuck off", "f u c k\toff"},
    {"f-u-c-k s_h_i_t", "fuck shit", "f-u-c-k\ts_h_i_t"},
    {"s.h.i.t.", "shit", "s.h.i.t"},
    {"f*u*c*k", "fuck", "f*u*c*k"},
    {"U.S.A. rocks", "usa rocks", "U.S.A\trocks"},
    {"I am a big fan", "i am a big fan", "I\tam\ta\tbig\tfan"},
    {"u r a joke", "u r a joke", "u\tr\ta\tjoke"},
    {"e.g. i.e. a. b. c.", "e g i e a b c", "e\tg\ti\te\ta\tb\tc"},
    {"f.u-c k", "f u c k", "f\tu\tc\tk"},
    /* stretching */
    {"fuuuuck", "fuck", "fuuuuck"},
    {"stupiddd", "stupid", "stupiddd"},
    {"goooood good", "god good", "goooood\tgood"},
    {"1000 zzz", "1000 z", "1000\tzzz"},
    /* zero-width and soft hyphen inside words */
    {"f\xe2\x80\x8bu\xe2\x80\x8c"
     "ck",
     "fuck",
     "f\xe2\x80\x8bu\xe2\x80\x8c"
     "ck"},
    {"id\xc2\xadiot \xe2\x80\x8b you", "idiot you", "id\xc2\xadiot\tyou"},
    {"sh\xef\xbb\xbfit", "shit", "sh\xef\xbb\xbfit"},
    /* homoglyphs: Cyrillic е in "idiоt" (о), Greek υ in "fυck" */
    {"idi\xd0\xbet f\xcf\x85"
     "ck",
     "idiot fuck",
     "idi\xd0\xbet\tf\xcf\x85"
     "ck"},
    {"\xd1\x95hit", "shit", "\xd1\x95hit"},
    /* Cyrillic ѕ, н, Greek ι, Cyrillic т: two scripts mixed */
    {"\xd1\x95\xd0\xbd\xce\xb9\xd1\x82", "shit",
     "\xd1\x95\xd0\xbd\xce\xb9\xd1\x82"},
    /* genuine Russian and Greek stay in their script */
    {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, "
     "\xd1\x81\xd0\xbe\xd0\xba",
     "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
     "\xd1\x81\xd0\xbe\xd0\xba",
     "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\t"
     "\xd1\x81\xd0\xbe\xd0\xba"},
    {"\xd0\xb9\xd0\xbe\xd0\xb4", "\xd0\xb9\xd0\xbe\xd0\xb4",
     "\xd0\xb9\xd0\xbe\xd0\xb4"},
    {"\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xe1\xbd\xb3\xcf\x81\xce\xb1",
     "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xb5\xcf\x81\xce\xb1",
     "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xe1\xbd\xb3\xcf\x81\xce\xb1"},
    /* emails and URLs: a handful of tokens, no leet, no joining */
    {"john.doe@example.com", "john doe example com", "john\tdoe\texample\tcom"},
    {"https://example.com/a/b?q=1&x=2", "https example com a b q 1 x 2",
     "https\texample\tcom\ta\tb\tq\t1\tx\t2"},
    /* nothing word-like */
    {"", "", ""},
    {" ... !!! *** --- ", "", ""},
};

START_TEST(test_tokens)
{
	const char *in = toks[_i].in;
	struct norm *n = norm_text(in, strlen(in), 0);
	char **want = g_strsplit(toks[_i].slices, "\t", -1);
	size_t nwant = *toks[_i].slices ? g_strv_length(want) : 0;

	ck_assert_msg(strcmp(n->joined, toks[_i].joined) == 0,
		      "\"%s\": joined \"%s\", want \"%s\"", in, n->joined,
		      toks[_i].joined);
	ck_assert_msg(n->n == nwant, "\"%s\": %zu tokens, want %zu", in, n->n,
		      nwant);
	for (size_t i = 0; i < n->n; i++) {
		const struct norm_token *t = &n->tok[i];
		size_t tl = strlen(t->text);

		ck_assert_uint_le(t->start, t->end);
		ck_assert_uint_le(t->end, strlen(in));
		ck_assert_msg(
		    t->end - t->start == strlen(want[i]) &&
			memcmp(in + t->start, want[i], t->end - t->start) == 0,
		    "\"%s\" token %zu: slice \"%.*s\", want \"%s\"", in, i,
		    (int)(t->end - t->start), in + t->start, want[i]);
		ck_assert(memcmp(n->joined + n->joined_off[i], t->text, tl) ==
			  0);
	}
	ck_assert_int_eq(n->truncated, 0);
	g_strfreev(want);
	ck_assert_ptr_null(norm_free(n));
}
END_TEST

/* Per-token alt and flags: which flags must be set and which clear. */
#define U NORM_TOK_UPPER
#define O NORM_TOK_OBFUSCATED
#define M NORM_TOK_MASKED
#define S NORM_TOK_SENT_START
#define Q NORM_TOK_QUOTED

static const struct {
	const char *in;
	size_t idx;
	const char *text;
	const char *alt; /* NULL: must be NULL */
	unsigned set;
	unsigned clear;
} details[] = {
    {"fuuuuck", 0, "fuck", "fuuck", O, M},
    {"stupiddd", 0, "stupid", "stupidd", O, 0},
    {"goooood", 0, "god", "good", O, 0},
    {"good", 0, "good", NULL, 0, O | M | U},
    {"f*ck", 0, "f*ck", NULL, O | M, 0},
    {"sh!t", 0, "sh*t", NULL, O | M, 0},
    {"f.u.c.k", 0, "fuck", NULL, O, M},
    {"f*u*c*k", 0, "fuck", NULL, O, M},
    {"sh1t", 0, "shit", NULL, O, M},
    {"mp3", 0, "mp3", NULL, 0, O},
    {"2024", 0, "2024", NULL, 0, O | U},
    {"idi\xd0\xbet", 0, "idiot", NULL, O, 0},
    {"f\xe2\x80\x8buck", 0, "fuck", NULL, O, 0},
    {"caf\xc3\xa9", 0, "cafe", NULL, 0, O},
    {"STOP this", 0, "stop", NULL, U | S, O},
    {"STOP this", 1, "this", NULL, 0, U | S},
    {"I am", 0, "i", NULL, S, U},
    {"F.U.C.K you", 0, "fuck", NULL, U | O | S, 0},
    {"FuCK", 0, "fuck", NULL, 0, U},
    {"USA", 0, "usa", NULL, U, 0},
    {"ＦＵＣＫ", 0, "fuck", NULL, U, 0},
    {"FUUUUCK", 0, "fuck", "fuuck", U | O, 0},
    {"he said \"you idiot\" ok", 3, "idiot", NULL, Q, S},
    {"he said \"you idiot\" ok", 4, "ok", NULL, 0, Q},
    {"\xe2\x80\x9cyou idiot\xe2\x80\x9d ok", 1, "idiot", NULL, Q, 0},
    {"\xe2\x80\x9cyou idiot\xe2\x80\x9d ok", 2, "ok", NULL, 0, Q},
    /* a blank line closes a runaway quote */
    {"\"unclosed\n\nnext", 1, "next", NULL, S, Q},
};

START_TEST(test_details)
{
	const char *in = details[_i].in;
	struct norm *n = norm_text(in, strlen(in), 0);
	const struct norm_token *t;

	ck_assert_uint_gt(n->n, details[_i].idx);
	t = &n->tok[details[_i].idx];
	ck_assert_str_eq(t->text, details[_i].text);
	if (details[_i].alt == NULL)
		ck_assert_ptr_null(t->alt);
	else
		ck_assert_str_eq(t->alt, details[_i].alt);
	ck_assert_msg((t->flags & details[_i].set) == details[_i].set,
		      "\"%s\" token %zu: flags %#x lack %#x", in,
		      details[_i].idx, t->flags, details[_i].set);
	ck_assert_msg((t->flags & details[_i].clear) == 0,
		      "\"%s\" token %zu: flags %#x have %#x", in,
		      details[_i].idx, t->flags, details[_i].clear);
	norm_free(n);
}
END_TEST

/* Which tokens start a sentence: one char per token, 'S' or '.' */
static const struct {
	const char *in;
	const char *want;
} sentences[] = {
    {"Hello there. this is bad! why? no; ok", "S.S..SSS"},
    {"first\n\nsecond\nthird", "SS."},
    {"first\n \t\nsecond", "SS"},
    {"see 3.14 and v2.1 ok", "S......"},
    {"end.\nnext", "SS"},
    {"(end.) next", "SS"},
    {"you f.u.c.k. Off", "S.S"},
    {"sh!t happens", "S."},
    {"idiot!you", "SS"},
    {"wow!great thanks!Bob", "SS.S"},
};

START_TEST(test_sentences)
{
	const char *in = sentences[_i].in;
	struct norm *n = norm_text(in, strlen(in), 0);
	GString *got = g_string_new(NULL);

	for (size_t i = 0; i < n->n; i++)
		g_string_append_c(
		    got, n->tok[i].flags & NORM_TOK_SENT_START ? 'S' : '.');
	ck_assert_msg(strcmp(got->str, sentences[_i].want) == 0,
		      "\"%s\": %s, want %s", in, got->str, sentences[_i].want);
	g_string_free(got, TRUE);
	norm_free(n);
}
END_TEST

/* Invalid UTF-8 and NUL bytes separate words; offsets stay exact. */
START_TEST(test_invalid_utf8)
{
	static const char in[] = "ab\xff"
				 "cd\0ef \xc3(gh \xe2\x82 ij\xc3";
	size_t len = sizeof(in) - 1;
	static const char *const want[] = {"ab", "cd", "ef", "gh", "ij"};
	struct norm *n = norm_text(in, len, 0);

	ck_assert_uint_eq(n->n, G_N_ELEMENTS(want));
	for (size_t i = 0; i < n->n; i++) {
		ck_assert_str_eq(n->tok[i].text, want[i]);
		ck_assert_uint_eq(n->tok[i].end - n->tok[i].start, 2);
		ck_assert(memcmp(in + n->tok[i].start, want[i], 2) == 0);
	}
	ck_assert_str_eq(n->joined, "ab cd ef gh ij");
	norm_free(n);

	/* Every byte value, every position: no crash, offsets in range. */
	for (int b = 0; b < 256; b++) {
		char buf[8] = {'a',     (char)b, 'b', (char)b,
			       (char)b, 'c',     '*', (char)b};

		n = norm_text(buf, sizeof(buf), 0);
		for (size_t i = 0; i < n->n; i++) {
			ck_assert_uint_le(n->tok[i].end, sizeof(buf));
			ck_assert(g_utf8_validate(n->tok[i].text, -1, NULL));
		}
		ck_assert(g_utf8_validate(n->joined, -1, NULL));
		norm_free(n);
	}

	n = norm_text(NULL, 10, 0);
	ck_assert_uint_eq(n->n, 0);
	ck_assert_str_eq(n->joined, "");
	norm_free(n);
}
END_TEST

START_TEST(test_max_tokens)
{
	const char *in = "one two three four five";
	struct norm *n = norm_text(in, strlen(in), 3);

	ck_assert_uint_eq(n->n, 3);
	ck_assert_int_eq(n->truncated, 1);
	ck_assert_str_eq(n->joined, "one two three");
	norm_free(n);

	/* exactly at the limit is not truncated */
	n = norm_text(in, strlen(in), 5);
	ck_assert_uint_eq(n->n, 5);
	ck_assert_int_eq(n->truncated, 0);
	norm_free(n);
}
END_TEST

/* Big, hostile inputs stay bounded (and fast enough not to time out). */
START_TEST(test_huge)
{
	size_t len = 4 * 1024 * 1024;
	char *in = g_malloc(len);
	struct norm *n;

	/* a a a a ... : more tokens than the default cap */
	for (size_t i = 0; i < len; i += 2) {
		in[i] = 'a';
		in[i + 1] = ' ';
	}
	n = norm_text(in, len, 0);
	ck_assert_uint_le(n->n, NORM_DEF_MAX_TOKENS);
	ck_assert_int_eq(n->truncated, 1);
	norm_free(n);

	/* one endless word, one endless stretch, one endless mask */
	memset(in, 'x', len);
	n = norm_text(in, len, 0);
	ck_assert_uint_eq(n->n, 1);
	ck_assert_str_eq(n->tok[0].text, "x");
	ck_assert_str_eq(n->tok[0].alt, "xx");
	ck_assert_uint_eq(n->tok[0].end, len);
	norm_free(n);

	for (size_t i = 0; i < len; i++)
		in[i] = "f*"[i % 2];
	n = norm_text(in, len, 0);
	ck_assert_uint_eq(n->n, 1);
	ck_assert_str_eq(n->tok[0].text, "f");
	norm_free(n);

	memset(in, 0, len);
	n = norm_text(in, len, 0);
	ck_assert_uint_eq(n->n, 0);
	norm_free(n);
	g_free(in);
}
END_TEST

START_TEST(test_url_bounded)
{
	GString *s = g_string_new(NULL);
	struct norm *n;

	for (int i = 0; i < 50; i++)
		g_string_append(s, "https://tracking.example.com/"
				   "c/AbCdEf0123456789?u=x@y.org&id=42 ");
	n = norm_text(s->str, s->len, 0);
	/* a dozen words per URL at most, whatever the parameters */
	ck_assert_uint_le(n->n, 50 * 12);
	norm_free(n);
	g_string_free(s, TRUE);
}
END_TEST

static const struct {
	const char *in;
	const char *want; /* NULL: nothing left */
} words[] = {
    {"Idiot", "idiot"},
    {"sh1t", "shit"},
    {"F*CK", "f*ck"},
    {"don\xe2\x80\x99t", "don't"},
    {"e-mail", "e mail"},
    {"Caf\xc3\xa9", "cafe"},
    {"  small claims ", "small claims"},
    {"...", NULL},
    {"", NULL},
};

START_TEST(test_word)
{
	char *w = norm_word(words[_i].in);

	if (words[_i].want == NULL)
		ck_assert_ptr_null(w);
	else
		ck_assert_str_eq(w, words[_i].want);
	g_free(w);
}
END_TEST

static const struct {
	const char *in;
	size_t letters, upper, caps_words, words;
	unsigned bang_runs, question_runs, longest_bang;
} shouts[] = {
    {"", 0, 0, 0, 0, 0, 0, 0},
    {"I need help with the USA FAQ", 12, 0, 0, 3, 0, 0, 0},
    {"THIS IS UNACCEPTABLE!!!", 16, 16, 2, 2, 1, 0, 3},
    {"Where is my refund??? Hello?!?", 16, 2, 0, 3, 1, 1, 3},
    {"ok!! fine! ?? !?!?!?!", 4, 0, 0, 1, 1, 0, 7},
    {"DON'T IGNORE ME", 10, 10, 2, 2, 0, 0, 0},
    {"> QUOTED SHOUTING HERE\nfine thanks", 10, 0, 0, 2, 0, 0, 0},
    {"\xc3\x89NORME PROBL\xc3\x88ME", 14, 14, 2, 2, 0, 0, 0},
};

START_TEST(test_shouting)
{
	struct norm_shout sh;

	norm_shouting(shouts[_i].in, strlen(shouts[_i].in), &sh);
	ck_assert_uint_eq(sh.letters, shouts[_i].letters);
	ck_assert_uint_eq(sh.upper, shouts[_i].upper);
	ck_assert_uint_eq(sh.caps_words, shouts[_i].caps_words);
	ck_assert_uint_eq(sh.words, shouts[_i].words);
	ck_assert_uint_eq(sh.bang_runs, shouts[_i].bang_runs);
	ck_assert_uint_eq(sh.question_runs, shouts[_i].question_runs);
	ck_assert_uint_eq(sh.longest_bang, shouts[_i].longest_bang);
	if (sh.letters == 0)
		ck_assert(sh.ratio == 0.0);
	else
		ck_assert(sh.ratio == (double)sh.upper / sh.letters);
}
END_TEST

START_TEST(test_shouting_hostile)
{
	static const char in[] = "AB\xff"
				 "CDEF\0GHIJ!!\xff!";
	struct norm_shout sh;

	norm_shouting(in, sizeof(in) - 1, &sh);
	/* "AB" is too short; CDEF and GHIJ count; the bad byte splits !! ! */
	ck_assert_uint_eq(sh.words, 2);
	ck_assert_uint_eq(sh.caps_words, 2);
	ck_assert_uint_eq(sh.bang_runs, 0);
	ck_assert_uint_eq(sh.longest_bang, 2);
	norm_shouting(NULL, 5, &sh);
	ck_assert_uint_eq(sh.letters, 0);
}
END_TEST

/*
 * The ASCII fast paths of norm_text() and norm_shouting() against the
 * general paths (norm_text_general(), norm_shouting_general()): random
 * mixes of plain words, leet, masks, apostrophes, stretching, spaced and
 * dotted letters, quotes, other scripts, look-alikes, zero-width and
 * broken UTF-8 must give the same tokens, offsets, flags and metrics.
 */
static const char *const mix_atoms[] = {
    "a",
    "I",
    "u",
    "hello",
    "Hello",
    "HELLO",
    "idiot",
    "you",
    "sue",
    "fuck",
    "FUUUCK",
    "sooo",
    "aaa",
    "Xx",
    "0",
    "1",
    "3",
    "4",
    "2024",
    "mp3",
    "covid19",
    "@",
    "$",
    "|",
    "*",
    "!",
    "!!!",
    "#",
    "%",
    "'",
    "`",
    "''",
    "?",
    ".",
    "-",
    "_",
    ",",
    ";",
    ":",
    "(",
    ")",
    "\"",
    " ",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "don't",
    "90's",
    "f*ck",
    "sh!t",
    "a**hole",
    "f***",
    "free*",
    "Thanks!",
    "Hi!!!Bob",
    "idiot!you",
    "@support",
    "@ss",
    "a$$",
    "user@example.org",
    "f.u.c.k",
    "s-h-i-t",
    "f u c k",
    "U.S.A.",
    "e.g.",
    "$19",
    "a|b",
    "it`s",
    "I\xE2\x80\x99m", /* I’m */
    "\xE2\x80\x9C",   /* “ */
    "\xE2\x80\x9D",   /* ” */
    "\xE2\x80\xA6",   /* … */
    "caf\xC3\xA9",
    "e\xCC\x81",                                        /* e + acute */
    "\xD0\xB0",                                         /* Cyrillic a */
    "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", /* привет */
    "\xCE\xB1",                                         /* alpha */
    "\xEF\xBD\x86\xEF\xBD\x95",                         /* fullwidth fu */
    "\xEF\xBC\x91",                                     /* fullwidth 1 */
    "\xE2\x80\x8B",                                     /* zero-width sp */
    "\xC2\xAD",                                         /* soft hyphen */
    "\xC2\xA0",                                         /* no-break sp */
    "\xE6\x97\xA5\xE6\x9C\xAC",                         /* 日本 */
    "\xC3\x9F",                                         /* sharp s */
    "\xEF\xAC\x81",                                     /* fi ligature */
    "\xE2\x84\xAA",                                     /* Kelvin sign */
    "\xFF",
    "\xC3",
    "\x01",
    "\x7F",
    ">",
    "> quoted",
};

/* same_norm - the two paths agree on s (len bytes) */
static void
same_norm(const char *s, size_t len)
{
	struct norm *a = norm_text(s, len, 0);
	struct norm *b = norm_text_general(s, len, 0);
	struct norm_shout sa, sb;
	char *shown = g_strescape(s, NULL);

	ck_assert_msg(a->n == b->n, "\"%s\": %zu tokens, general %zu", shown,
		      a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct norm_token *x = &a->tok[i], *y = &b->tok[i];

		ck_assert_msg(
		    strcmp(x->text, y->text) == 0 &&
			(x->alt == NULL) == (y->alt == NULL) &&
			(x->alt == NULL || strcmp(x->alt, y->alt) == 0) &&
			x->start == y->start && x->end == y->end &&
			x->flags == y->flags,
		    "\"%s\" token %zu: %s/%s %zu-%zu %x, general "
		    "%s/%s %zu-%zu %x",
		    shown, i, x->text, x->alt ? x->alt : "-", x->start, x->end,
		    x->flags, y->text, y->alt ? y->alt : "-", y->start, y->end,
		    y->flags);
		ck_assert_uint_eq(a->joined_off[i], b->joined_off[i]);
	}
	ck_assert_str_eq(a->joined, b->joined);
	ck_assert_int_eq(a->truncated, b->truncated);
	norm_shouting(s, len, &sa);
	norm_shouting_general(s, len, &sb);
	ck_assert_msg(
	    sa.letters == sb.letters && sa.upper == sb.upper &&
		sa.caps_words == sb.caps_words && sa.words == sb.words &&
		sa.bang_runs == sb.bang_runs &&
		sa.question_runs == sb.question_runs &&
		sa.longest_bang == sb.longest_bang && sa.ratio == sb.ratio,
	    "\"%s\": shouting metrics differ", shown);
	g_free(shown);
	norm_free(a);
	norm_free(b);
}

START_TEST(test_fast_path_same)
{
	GRand *rnd = g_rand_new_with_seed(20261122);

	for (int n = 0; n < 20000; n++) {
		GString *s = g_string_new(NULL);
		int atoms = g_rand_int_range(rnd, 1, 40);

		for (int k = 0; k < atoms; k++) {
			g_string_append(s,
					mix_atoms[g_rand_int_range(
					    rnd, 0, G_N_ELEMENTS(mix_atoms))]);
			if (g_rand_boolean(rnd))
				g_string_append_c(s, ' ');
		}
		/* now and then a NUL: a separator, never in a token */
		if (g_rand_int_range(rnd, 0, 10) == 0)
			s->str[g_rand_int_range(rnd, 0, (gint32)s->len)] = '\0';
		same_norm(s->str, s->len);
		g_string_free(s, TRUE);
	}
	g_rand_free(rnd);
}
END_TEST

/* the fast path at the token cap: the same tokens, then truncated */
START_TEST(test_fast_path_cap)
{
	const char *in = "one two three four five six";
	struct norm *a = norm_text(in, strlen(in), 3);
	struct norm *b = norm_text_general(in, strlen(in), 3);

	ck_assert_uint_eq(a->n, 3);
	ck_assert_uint_eq(b->n, 3);
	ck_assert_str_eq(a->joined, b->joined);
	ck_assert_int_eq(a->truncated, 1);
	ck_assert_int_eq(b->truncated, 1);
	norm_free(a);
	norm_free(b);
}
END_TEST

static Suite *
normalize_suite(void)
{
	Suite *s = suite_create("normalize");
	TCase *tc = tcase_create("normalize");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_tokens, 0, G_N_ELEMENTS(toks));
	tcase_add_loop_test(tc, test_details, 0, G_N_ELEMENTS(details));
	tcase_add_loop_test(tc, test_sentences, 0, G_N_ELEMENTS(sentences));
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_max_tokens);
	tcase_add_test(tc, test_huge);
	tcase_add_test(tc, test_url_bounded);
	tcase_add_loop_test(tc, test_word, 0, G_N_ELEMENTS(words));
	tcase_add_loop_test(tc, test_shouting, 0, G_N_ELEMENTS(shouts));
	tcase_add_test(tc, test_shouting_hostile);
	tcase_add_test(tc, test_fast_path_same);
	tcase_add_test(tc, test_fast_path_cap);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(normalize_suite)
