/*
 * test-quote.c - new text vs quoted replies vs signature
 *
 * Each case is written as three consecutive pieces of one message: the
 * customer's new text, a signature, and the quoted rest.  The splitter
 * must return exactly the new text (trailing blank lines trimmed) and
 * count exactly the bytes of the other two pieces.
 */
#include <string.h>

#include <glib.h>

#include "unit.h"
#include "quote.h"

struct quote_case {
	const char *name;
	const char *fresh;
	const char *sig;
	const char *quoted;
};

static const struct quote_case quote_cases[] = {
    {"no quote at all", "Hello,\nmy order is late.\n", "", ""},
    /* a customer's line starting like an attribution, right above one */
    {"intro-like line above the attribution",
     "Where is my refund?\nOn top of that the parcel was damaged.\n", "",
     "On Mon, Jan 5, 2026 at 10:00 AM Support <s@example.com> wrote:\n"
     "> We shipped it.\n"},
    /* a client wrapped a long quoted line: its overflow is quote too */
    {"wrapped quote line", "Thanks, that helps.\n\n", "",
     "> Our manager says the replacement part will be shipped from the "
     "central warehouse\nas soon as it arrives\n> and we will let you "
     "know.\n"},
    /* French clients put a no-break space before the colon */
    {"french a ecrit with no-break space", "Toujours rien.\n\n", "",
     "Le lun. 5 janv. 2026 \xC3\xA0 10:00, Jean <jean@example.fr> a "
     "\xC3\xA9"
     "crit\xC2\xA0:\n\n> Votre colis est parti.\n"},
    {"french outlook block with no-break spaces", "Merci.\n\n", "",
     "De\xC2\xA0: Support <s@example.fr>\nEnvoy\xC3\xA9\xC2\xA0: lundi 5 "
     "janvier 2026 10:00\n\xC3\x80\xC2\xA0: Jean\nObjet\xC2\xA0: "
     "Commande\n\nVotre colis est parti.\n"},
    /* a corporate disclaimer is signature, not words (nor a threat) */
    {"disclaimer paragraph", "Please refund order 1234.\n\n",
     "CONFIDENTIALITY NOTICE: This e-mail is confidential and may be\n"
     "privileged. If you are not the intended recipient, any use is\n"
     "prohibited and may result in legal action.\n",
     ""},
    {"intended recipient in prose is not a disclaimer",
     "The intended recipient never got the parcel.\n\nIt was "
     "confidential paperwork, please check.\n",
     "", ""},
    {"empty", "", "", ""},
    {"gt quoted below", "Thanks!\n\n", "", "> earlier text\n> more\n"},
    {"nested gt", "Still broken.\n", "", "> > > very old\n> > old\n> recent\n"},
    {"indented gt", "See below.\n", "", "  > indented quote\n"},
    {"gmail one line", "Still waiting.\n\n", "",
     "On Mon, Jan 5, 2026 at 10:00 AM John Smith <john@example.com> "
     "wrote:\n\n> Hi, we shipped it.\n"},
    {"gmail wrapped over two lines", "No, it did not arrive.\n\n", "",
     "On Mon, Jan 5, 2026 at 10:00 AM Support Team <support@example.com>\n"
     "wrote:\n\n> It arrived on Friday.\n"},
    {"apple mail", "Ok thanks\n\n", "",
     "On 5 Jan 2026, at 10:00, John Smith <john@example.com> wrote:\n\n"
     "> Your parcel is on its way.\n"},
    {"attribution with unprefixed quote", "Please hurry.\n\n", "",
     "On Mon, Jan 5, 2026 at 10:00 AM Support <s@example.com> wrote:\n"
     "Dear customer, thank you for your patience.\nRegards\n"},
    {"name wrote before gt", "Agreed.\n", "",
     "Lena from Support <support@example.com> wrote:\n> We can offer a "
     "refund.\n"},
    {"german am schrieb", "Immer noch kaputt.\n\n", "",
     "Am 05.01.2026 um 10:00 schrieb Max Muster <max@example.de>:\n\n"
     "> Wir haben es repariert.\n"},
    {"french le a ecrit", "Toujours rien.\n\n", "",
     "Le lun. 5 janv. 2026 \xC3\xA0 10:00, Jean Dupont <jean@example.fr> a "
     "\xC3\xA9"
     "crit :\n\n> Votre colis est parti.\n"},
    {"spanish el escribio", "Sigo esperando.\n\n", "",
     "El lun, 5 ene 2026 a las 10:00, Juan (<juan@example.es>) "
     "escribi\xC3\xB3:\n> Ya lo enviamos.\n"},
    {"italian il ha scritto", "Ancora niente.\n\n", "",
     "Il giorno lun 5 gen 2026 alle ore 10:00 Mario Rossi "
     "<mario@example.it> ha scritto:\n\n> Spedito ieri.\n"},
    {"dutch op schreef", "Nog steeds niets.\n\n", "",
     "Op ma 5 jan. 2026 om 10:00 schreef Jan de Vries <jan@example.nl>:\n\n"
     "> Het is verzonden.\n"},
    {"portuguese em escreveu", "Ainda nada.\n\n", "",
     "Em seg., 5 de jan. de 2026 \xC3\xA0s 10:00, Jo\xC3\xA3o "
     "<joao@example.pt> escreveu:\n\n> J\xC3\xA1 foi enviado.\n"},
    {"swedish den skrev", "Fortfarande inget.\n\n", "",
     "Den 5 jan. 2026 kl. 10:00 skrev Anna <anna@example.se>:\n\n"
     "> Det \xC3\xA4r skickat.\n"},
    {"outlook original message", "Any news?\n\n", "",
     "-----Original Message-----\nFrom: Support\nSent: Monday, January 5, "
     "2026 10:00 AM\nTo: Customer\nSubject: RE: Order\n\nWe are on it.\n"},
    {"outlook block without marker", "Any news?\n\n", "",
     "From: Support <support@example.com>\nSent: Monday, January 5, 2026 "
     "10:00 AM\nTo: Customer <c@example.com>\nSubject: RE: Order\n\n"
     "We are on it.\n"},
    {"outlook underscore rule", "Any news?\n\n", "",
     "________________________________\nFrom: Support "
     "<support@example.com>\nSent: Monday, January 5, 2026 10:00 AM\nTo: "
     "Customer\nSubject: RE: Order\n\nWe are on it.\n"},
    {"outlook bold header names", "Any news?\n\n", "",
     "*From:* Support <support@example.com>\n*Sent:* Monday, January 5, "
     "2026\n*To:* Customer\n\nWe are on it.\n"},
    {"german outlook", "Bitte melden Sie sich.\n\n", "",
     "-----Urspr\xC3\xBCngliche Nachricht-----\nVon: Support\nGesendet: "
     "Montag, 5. Januar 2026 10:00\nAn: Kunde\nBetreff: AW: Bestellung\n\n"
     "Wir k\xC3\xBCmmern uns.\n"},
    {"german block without marker", "Bitte melden Sie sich.\n\n", "",
     "Von: Support <support@example.de>\nGesendet: Montag, 5. Januar 2026 "
     "10:00\nAn: Kunde\nBetreff: AW: Bestellung\n\nAlt.\n"},
    {"french outlook block", "Merci de r\xC3\xA9pondre.\n\n", "",
     "De : Support <support@example.fr>\nEnvoy\xC3\xA9 : lundi 5 janvier "
     "2026 10:00\n\xC3\x80 : Client\nObjet : RE: Commande\n\nAncien.\n"},
    {"spanish outlook block", "Por favor.\n\n", "",
     "De: Soporte <soporte@example.es>\nEnviado: lunes, 5 de enero de "
     "2026 10:00\nPara: Cliente\nAsunto: RE: Pedido\n\nViejo.\n"},
    {"italian outlook block", "Per favore.\n\n", "",
     "Da: Supporto <supporto@example.it>\nInviato: luned\xC3\xAC 5 "
     "gennaio 2026 10:00\nA: Cliente\nOggetto: R: Ordine\n\nVecchio.\n"},
    {"dutch outlook block", "Graag antwoord.\n\n", "",
     "Van: Support <support@example.nl>\nVerzonden: maandag 5 januari "
     "2026 10:00\nAan: Klant\nOnderwerp: RE: Bestelling\n\nOud.\n"},
    {"gmail forward", "See below, third time!\n\n", "",
     "---------- Forwarded message ---------\nFrom: Courier "
     "<no-reply@courier.example>\nDate: Fri, Jan 2, 2026\n\nRescheduled.\n"},
    {"apple forward", "FYI\n\n", "",
     "Begin forwarded message:\n\nFrom: Courier <c@example.com>\n"
     "Subject: Delay\n\nRescheduled.\n"},
    {"german forward", "Zur Info.\n\n", "",
     "---------- Weitergeleitete Nachricht ----------\nVon: Kurier\n\n"
     "Verschoben.\n"},
    {"french forward", "Pour info.\n\n", "",
     "-------- Message transf\xC3\xA9r\xC3\xA9 --------\nDe : Transporteur\n"
     "\nReport\xC3\xA9.\n"},
    {"signature dash dash space", "Please call me.\n\n",
     "-- \nJohn Smith\nACME Ltd.\n", ""},
    {"signature bare dash dash", "Please call me.\n", "--\nJohn Smith\n", ""},
    {"signature then quote", "Please call me.\n\n", "-- \nJohn\n\n",
     "On Mon, Jan 5, 2026 at 10:00 AM Support <s@example.com> wrote:\n"
     "> Call us.\n"},
    {"mobile signature then quote", "Fine.\n\n", "Sent from my iPhone\n\n",
     "On 5 Jan 2026, at 10:00, Support <s@example.com> wrote:\n\n> Ok?\n"},
    {"customer From lines are prose",
     "I got an email.\nFrom my side everything is fine.\nFrom: the "
     "billing team, apparently.\nThanks\n",
     "", ""},
    {"lone From header is prose",
     "The message said\nFrom: billing@example.com\n\nand nothing else.\n", "",
     ""},
    {"on without date is prose",
     "On Monday your colleague wrote:\nthe refund is coming. It did not.\n", "",
     ""},
    {"wrote in prose is not quote",
     "My lawyer wrote: this is unacceptable.\nPlease answer.\n", "", ""},
    {"dashes in prose are not a signature",
     "Prices -- as you know -- went up.\n---\nok\n", "", ""},
    {"long original-message prose is not a marker",
     "I have the original message from you saying the refund is coming, "
     "but nothing happened since then and I am tired of waiting.\n",
     "", ""},
};

/* quote_expected_fresh - the new text as quote_split returns it */
static char *
quote_expected_fresh(const char *fresh)
{
	size_t len = strlen(fresh);

	while (len > 0 && (fresh[len - 1] == '\n' || fresh[len - 1] == ' '))
		len--;
	if (len == 0)
		return g_strdup("");
	return g_strdup_printf("%.*s\n", (int)len, fresh);
}

/* test_quote_case - one row of the table */
START_TEST(test_quote_case)
{
	const struct quote_case *c = &quote_cases[_i];
	char *text = g_strconcat(c->fresh, c->sig, c->quoted, NULL);
	char *want = quote_expected_fresh(c->fresh);
	struct quote_split qs;

	quote_split(text, strlen(text), &qs);
	ck_assert_msg(strcmp(qs.fresh->str, want) == 0,
		      "%s: fresh\n[%s]\nwant\n[%s]", c->name, qs.fresh->str,
		      want);
	ck_assert_msg(qs.quoted == strlen(c->quoted),
		      "%s: quoted %zu, want %zu", c->name, qs.quoted,
		      strlen(c->quoted));
	ck_assert_msg(qs.signature == strlen(c->sig),
		      "%s: signature %zu, want %zu", c->name, qs.signature,
		      strlen(c->sig));
	quote_split_clear(&qs);
	ck_assert_ptr_null(qs.fresh);
	g_free(text);
	g_free(want);
}
END_TEST

/* test_quote_inline - answers between quoted lines are new text */
START_TEST(test_quote_inline)
{
	static const char text[] =
	    "On Mon, Jan 5, 2026 at 10:00 AM Support <s@example.com> "
	    "wrote:\n> Which model?\nThe T-200.\n> Since when?\n"
	    "Since Friday.\n";
	struct quote_split qs;

	quote_split(text, strlen(text), &qs);
	ck_assert_str_eq(qs.fresh->str, "The T-200.\nSince Friday.\n");
	ck_assert_uint_eq(qs.quoted, strlen(text) - strlen("The T-200.\n") -
					 strlen("Since Friday.\n"));
	quote_split_clear(&qs);
}
END_TEST

/* test_quote_greeting - a greeting between the attribution and the ">"
 * block is an inline reply: the customer's text below still counts */
START_TEST(test_quote_greeting)
{
	static const char text[] =
	    "On Mon, Jan 5, 2026 at 10:00 AM Support <s@example.com> "
	    "wrote:\n\nHello,\n\n> We shipped it on Friday.\n\n"
	    "It never arrived and I want a refund.\n";
	struct quote_split qs;

	quote_split(text, strlen(text), &qs);
	ck_assert_str_eq(qs.fresh->str,
			 "Hello,\n\n\nIt never arrived and I want a refund.\n");
	quote_split_clear(&qs);
}
END_TEST

/* test_quote_crlf - stray CRs do not hide a quote start or signature */
START_TEST(test_quote_crlf)
{
	static const char text[] = "Hello\r\n-- \r\nJohn\r\n";
	struct quote_split qs;

	quote_split(text, strlen(text), &qs);
	ck_assert_str_eq(qs.fresh->str, "Hello\n");
	ck_assert_uint_eq(qs.signature, strlen("-- \r\nJohn\r\n"));
	quote_split_clear(&qs);
}
END_TEST

/* test_quote_no_final_newline - the last line counts without its LF */
START_TEST(test_quote_no_final_newline)
{
	static const char text[] = "new\n> old";
	struct quote_split qs;

	quote_split(text, strlen(text), &qs);
	ck_assert_str_eq(qs.fresh->str, "new\n");
	ck_assert_uint_eq(qs.quoted, 5);
	quote_split_clear(&qs);
}
END_TEST

static Suite *
quote_suite(void)
{
	Suite *s = suite_create("quote");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_quote_case, 0,
			    (int)G_N_ELEMENTS(quote_cases));
	tcase_add_test(tc, test_quote_inline);
	tcase_add_test(tc, test_quote_greeting);
	tcase_add_test(tc, test_quote_crlf);
	tcase_add_test(tc, test_quote_no_final_newline);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(quote_suite)
