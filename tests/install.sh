#!/bin/bash
#
# tests/install.sh - "make install DESTDIR=..." and what it leaves
#
#   - make install into $T/root: the binary, the three man pages, the
#     config under $(sysconfdir)/triage-milter, every file of rules/ and
#     conf/templates/, the docs (the sample config, README.md and the
#     conf/ snippets)
#   - the installed binary runs; -n -c on the installed config exits 0
#     (its default "rules" is the compiled-in $(sysconfdir) path, outside
#     DESTDIR, so -n warns that no rule file matches unless a real
#     install exists there)
#   - -n on a copy of the installed config pointed at the installed
#     rules and templates (acknowledgments on, so the templates are
#     read): exit 0, every rule example passes, no warning; -t with that
#     copy flags a legal threat
#   - an edited config survives a second make install and make uninstall;
#     make uninstall removes everything else; an unedited config is
#     removed by make uninstall
#   - mandoc -Tlint on the installed man pages: nothing at warning level
#     or above (cross-reference STYLE notes are fine)
# make runs from top_builddir without the MAKEFLAGS of a "make check"
# that may have started us.
#
# Functions named only as arguments (t_check, t_on_exit):
# shellcheck disable=SC2317
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

t_need_milter
t_need_cmd make
[ -f "$top_builddir/Makefile" ] ||
	t_hard_error "no Makefile in $top_builddir (run ./configure)"
t_tmpdir

DEST=$T/root

# mk ARGS... - make in top_builddir, output in $T/make.log
mk()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$top_builddir" "$@" >>"$T/make.log" 2>&1
}

mk_check()
{
	local desc=$1
	shift
	echo "==> make $*" >>"$T/make.log"
	if mk "$@"; then
		t_pass "$desc"
	else
		t_fail "$desc"
		tail -n 30 "$T/make.log" | sed 's/^/  | /'
	fi
}

# The installation directories as this Makefile has them.
# shellcheck disable=SC2016 # make expands these, not the shell
printf '%s\n' 'print-dirs:' \
	'	@echo "sbindir=$(sbindir)"' '	@echo "mandir=$(mandir)"' \
	'	@echo "docdir=$(docdir)"' '	@echo "confdir=$(triageconfdir)"' \
	'	@echo "rulesdir=$(triagerulesdir)"' \
	'	@echo "templatesdir=$(triagetemplatesdir)"' >"$T/dirs.mk"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" \
	-f Makefile -f "$T/dirs.mk" print-dirs >"$T/dirs" 2>"$T/dirs.err" ||
	t_hard_error "cannot read the installation directories: $(cat "$T/dirs.err")"
dir()
{
	sed -n "s/^$1=//p" "$T/dirs"
}
sbindir=$(dir sbindir)
mandir=$(dir mandir)
docdir=$(dir docdir)
confdir=$(dir confdir)
rulesdir=$(dir rulesdir)
templatesdir=$(dir templatesdir)
for v in sbindir mandir docdir confdir rulesdir templatesdir; do
	[ -n "${!v}" ] || t_hard_error "installation directory $v unknown"
	t_log "$v = ${!v}"
done
CONF=$DEST$confdir/triage-milter.conf
MILTER=$DEST$sbindir/triage-milter

# ---- make install ------------------------------------------------------
mk_check "make install DESTDIR=$DEST" install DESTDIR="$DEST"

t_check "binary: $sbindir/triage-milter installed, executable" test -x "$MILTER"
for page in man8/triage-milter.8 man5/triage-milter.conf.5 \
	man5/triage-rules.5; do
	t_check "man page $mandir/$page installed" test -s "$DEST$mandir/$page"
done
t_check "config $confdir/triage-milter.conf installed" test -s "$CONF"
t_check "installed config is the sample" \
	cmp -s "$top_srcdir/conf/triage-milter.conf" "$CONF"

# every file of the source rules/ and conf/templates/ is installed as is
missing=
for f in "$top_srcdir"/rules/* "$top_srcdir"/conf/templates/*; do
	[ -f "$f" ] || continue
	case $f in
	*/rules/*) to=$DEST$rulesdir/${f##*/} ;;
	*) to=$DEST$templatesdir/${f##*/} ;;
	esac
	cmp -s "$f" "$to" || missing="$missing ${f#"$top_srcdir"/}"
done
t_eq "every file of rules/ and conf/templates/ installed unchanged" "" \
	"${missing# }"
has_rules()
{
	compgen -G "$1/*.rules" >/dev/null
}
t_check "rules: at least one *.rules file installed" has_rules "$DEST$rulesdir"

# docs: the sample config, README.md, and the conf/ snippets
missing=
for f in "$top_srcdir"/conf/* "$top_srcdir/README.md"; do
	[ -f "$f" ] || continue
	cmp -s "$f" "$DEST$docdir/${f##*/}" || missing="$missing ${f##*/}"
done
t_eq "docs: README.md and every conf/ file in $docdir" "" "${missing# }"

# ---- the installed binary -----------------------------------------------
t_match "installed binary: -V" '^triage-milter [0-9]' \
	"$("$MILTER" -V 2>&1 || true)"

rc=0
"$MILTER" -n -c "$CONF" >"$T/n1.out" 2>&1 || rc=$?
sed 's/^/  | /' "$T/n1.out"
t_eq "installed config: -n exits 0" 0 "$rc"
if has_rules "$rulesdir"; then
	t_log "$rulesdir has rule files on this system: no warning expected"
else
	t_check "installed config: -n warns that no rule file matches $rulesdir (outside DESTDIR)" \
		grep -q 'no rule file matches' "$T/n1.out"
fi

# A copy of the installed config pointed into DESTDIR: the installed
# rules and templates, acknowledgments on so that -n reads the templates.
LOCAL=$T/local.conf
awk -v tdir="$DEST$templatesdir" '
	/^reply[ \t]*\{/ { inreply = 1 }
	inreply && /^\}/ {
		print "\tenable = true"
		print "\tfrom = \"Support <support@example.com>\""
		print "\taddresses = {\"support@example.com\"}"
		print "\ttemplates = \"" tdir "\""
		inreply = 0
	}
	{ print }' "$CONF" >"$LOCAL"
printf '%s\n' "rules = {\"$DEST$rulesdir/*.rules\"}" \
	"store = \"lmdb:$T/store\"" >>"$LOCAL"
t_check "config copy: the reply section was found and edited" \
	grep -q "templates = \"$DEST$templatesdir\"" "$LOCAL"
rc=0
"$MILTER" -n -c "$LOCAL" >"$T/n2.out" 2>&1 || rc=$?
sed 's/^/  | /' "$T/n2.out"
t_eq "installed rules and templates: -n exits 0 (rule examples pass)" 0 "$rc"
t_eq "installed rules and templates: -n prints no warning or error" "" \
	"$(grep -iE 'warning|error|fail' "$T/n2.out" || true)"
t_match "installed rules: -t flags legal-threat.eml" 'legal-threat' \
	"$("$MILTER" -c "$LOCAL" -t "$T_DATA/legal-threat.eml" 2>&1 |
		grep '^+X-Triage-Flags:' || true)"

# ---- man pages -----------------------------------------------------------
if command -v mandoc >/dev/null 2>&1; then
	for page in man8/triage-milter.8 man5/triage-milter.conf.5 \
		man5/triage-rules.5; do
		rc=0
		mandoc -Tlint -W warning "$DEST$mandir/$page" >"$T/lint.out" 2>&1 ||
			rc=$?
		# the system's mandoc.db being stale is not the page's fault
		out=$(grep -v 'outdated mandoc.db' "$T/lint.out" || true)
		if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
			t_pass "mandoc -Tlint: ${page#*/}: no warning or error"
		else
			t_fail "mandoc -Tlint: ${page#*/} (exit status $rc)"
			printf '%s\n' "$out" | sed 's/^/  | /'
		fi
		mandoc -Tlint "$DEST$mandir/$page" 2>&1 |
			grep -v 'outdated mandoc.db' | sed 's/^/  note: /' || true
	done
else
	t_missing "mandoc not found (mandoc -Tlint on the man pages)"
fi

# ---- an edited config survives reinstall and uninstall -------------------
printf '\n# edited by tests/install.sh\nmax_scan_bytes = 131072\n' >>"$CONF"
cp -p "$CONF" "$T/edited.conf"
mk_check "second make install DESTDIR=$DEST" install DESTDIR="$DEST"
t_check "second make install: the edited config is kept" \
	cmp -s "$T/edited.conf" "$CONF"
t_check "second make install: the sample is still in $docdir" \
	cmp -s "$top_srcdir/conf/triage-milter.conf" "$DEST$docdir/triage-milter.conf"

mk_check "make uninstall DESTDIR=$DEST" uninstall DESTDIR="$DEST"
t_check "make uninstall: the edited config is kept" \
	cmp -s "$T/edited.conf" "$CONF"
left=$(cd "$DEST" && find . ! -type d | sed 's/^\.//' | sort)
t_eq "make uninstall: nothing but the edited config left" \
	"$confdir/triage-milter.conf" "$(printf '%s\n' "$left" | tr '\n' ' ' | sed 's/ $//')"

# an unedited config goes with make uninstall
DEST2=$T/root2
mk_check "make install DESTDIR=$DEST2" install DESTDIR="$DEST2"
mk_check "make uninstall DESTDIR=$DEST2" uninstall DESTDIR="$DEST2"
t_eq "make uninstall: an unedited install leaves no file" "" \
	"$(cd "$DEST2" && find . ! -type d | tr '\n' ' ')"

t_done
