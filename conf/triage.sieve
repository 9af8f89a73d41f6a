# triage.sieve - filing support mail on the X-Triage-* headers (RFC 5228)
#
# For a Sieve-capable mail store (Dovecot Pigeonhole, Cyrus).  The headers
# are added by triage-milter at the door; inbound copies are always
# removed first, so a sender cannot set them.  See triage-milter(8).
require ["fileinto", "imap4flags"];

# Legal threats go to the people who handle them, flagged.
if header :is "X-Triage-Route" "legal" {
	addflag "\\Flagged";
	fileinto "Support/Legal";
	stop;
}

# Threats to go public: someone senior should see them today.
if header :contains "X-Triage-Flags" "public-threat" {
	addflag "\\Flagged";
	fileinto "Support/Escalations";
	stop;
}

# Abuse: read by someone with distance, answered calmly.
if header :contains "X-Triage-Flags" "abusive" {
	fileinto "Support/Abusive";
	stop;
}

# Customers who write many times a day: one folder, one answer.
if header :contains "X-Triage-Flags" "frequent" {
	fileinto "Support/Frequent";
	stop;
}

# Very long messages: set aside time to read them properly.
if header :contains "X-Triage-Flags" "long" {
	fileinto "Support/Long";
}
