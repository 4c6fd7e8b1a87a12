"""The bounce rules as data: the tables of ``docs/bounces.md``, in one place to read and extend.

- ``REASONS``            the 22 reasons: class, meaning, action, soft-suppression counting
- ``CLIENT_ERRORS``      step 1: client library error names -> reason
- ``PROVIDER_HINTS``     step 2: the providers' own specific labels -> reason
- ``TEXT_PATTERNS``      step 3: phrases per reason, in precedence order
- ``ENHANCED_CODES``     step 4: RFC 3463 / IANA enhanced status codes -> reason
- ``REPLY_CODES``        step 5: bare SMTP reply codes -> reason
- ``CONNECT_STAGE`` / ``MAIL_FROM_STAGE``  step 6: SMTP stage correction

The procedure that applies them is ``bounce/classify.py``; nothing here does any work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BOUNCE_STATUSES = frozenset({"bounced", "deferred", "dropped", "failed"})

HARD, SOFT, BLOCK, UNDETERMINED = "hard", "soft", "block", "undetermined"


@dataclass(frozen=True)
class ReasonInfo:
    bounce_class: str | None  # None for `other`: the class then comes from the codes
    meaning: str
    action: str
    counts_for_soft_suppression: bool


# --------------------------------------------------------------------------------------
# Reasons (docs/bounces.md, Reasons)
# --------------------------------------------------------------------------------------

REASONS: dict[str, ReasonInfo] = {
    "user_unknown": ReasonInfo(
        HARD,
        "The mailbox does not exist, the address is invalid, or it moved without forwarding.",
        "Suppress now.",
        False,
    ),
    "mailbox_disabled": ReasonInfo(
        HARD,
        "The mailbox exists but is disabled, suspended, locked, frozen or inactive.",
        "Suppress now; re-enable only if the recipient confirms the account is active again.",
        False,
    ),
    "domain_not_found": ReasonInfo(
        HARD,
        "The recipient domain cannot receive mail (NXDOMAIN, no MX/A/AAAA, null MX, 521/556).",
        "Suppress now. Check for typos of big domains (gmial.com) before blaming the recipient.",
        False,
    ),
    "suppressed": ReasonInfo(
        HARD,
        "Not attempted: a suppression list already contains the address.",
        "Keep suppressed. Remove from the list only with the recipient's consent.",
        False,
    ),
    "mailbox_full": ReasonInfo(
        SOFT,
        "The recipient is over quota / out of storage, whatever the reply code.",
        "Retry; suppress after repeated failures.",
        True,
    ),
    "greylisted": ReasonInfo(
        SOFT,
        "The receiver deferred a first-time sender/recipient/IP and expects a retry.",
        "Nothing; the MTA retries. Only a problem if the MTA does not retry.",
        False,
    ),
    "rate_limited": ReasonInfo(
        SOFT,
        "Volume throttling without a reputation verdict, or our own sending quota is used up.",
        "Slow down, spread the send, respect provider quotas; retry later.",
        False,
    ),
    "server_error": ReasonInfo(
        SOFT,
        "A fault on the receiving system (processing error, storage, loop, misconfiguration).",
        "Retry; if it persists for one domain, tell its postmaster.",
        True,
    ),
    "network_error": ReasonInfo(
        SOFT,
        "The connection could not be made or was lost (refused, timeout, reset, temporary DNS).",
        "Retry. If every recipient fails, check our own host, port, firewall and DNS.",
        # Counts for `bounced` events only; a `failed` event (our own relay/API) never
        # counts, and the default policy only looks at `bounced` events anyway.
        True,
    ),
    "expired": ReasonInfo(
        SOFT,
        "The sending MTA or provider gave up after its retry period; no more specific cause.",
        "Treat as a soft bounce; look at the earlier deferrals of the message for the cause.",
        True,
    ),
    "blocklisted": ReasonInfo(
        BLOCK,
        "The sending IP or domain is on a DNS blocklist or the receiver's own block list.",
        "Look up the listing, fix the cause, request delisting.",
        False,
    ),
    "reputation": ReasonInfo(
        BLOCK,
        "The receiver distrusts the sending IP or domain without naming a list.",
        "Reduce volume, remove unengaged recipients, warm up IPs, check postmaster tools.",
        False,
    ),
    "spam_content": ReasonInfo(
        BLOCK,
        "The content filter judged this message to be spam.",
        "Review content, links and URL domains; test before resending.",
        False,
    ),
    "content_rejected": ReasonInfo(
        BLOCK,
        "Refused for its content but not as spam: virus, attachment type, malformed message.",
        "Fix the template, attachments or the code that builds the message.",
        False,
    ),
    "auth_policy": ReasonInfo(
        BLOCK,
        "Sender identity checks failed: SPF, DKIM, DMARC, ARC, reverse DNS or HELO name.",
        "Fix DNS and signing for the sending domain and IP (SPF, DKIM, DMARC, PTR, HELO).",
        False,
    ),
    "policy_rejected": ReasonInfo(
        BLOCK,
        "Refused by the receiver's policy with no more specific cause.",
        "Investigate; contact the receiving postmaster. Do not suppress automatically.",
        False,
    ),
    "relay_denied": ReasonInfo(
        BLOCK,
        "The server refused to relay for that destination from us.",
        "Fix our own configuration (authenticate, use the right relay); check the MX setup.",
        False,
    ),
    "sender_rejected": ReasonInfo(
        BLOCK,
        "The envelope sender or sending identity was refused.",
        "Use a real, resolvable bounce domain; verify sending identities; grant send-as rights.",
        False,
    ),
    "message_too_large": ReasonInfo(
        BLOCK,
        "The message exceeds the receiver's or provider's size limit.",
        "Send a smaller message (links instead of attachments). Do not suppress.",
        False,
    ),
    "auth_error": ReasonInfo(
        BLOCK,
        "Our own SMTP login to the relay or provider failed or is missing.",
        "Fix credentials or account settings, then resend.",
        False,
    ),
    "tls_error": ReasonInfo(
        BLOCK,
        "TLS could not be set up (STARTTLS required, handshake, certificate, REQUIRETLS).",
        "Fix port / implicit-TLS vs STARTTLS settings, the CA bundle or the certificate.",
        False,
    ),
    "other": ReasonInfo(
        None,
        "Nothing recognised.",
        "Look at it; extend the patterns when a new wording shows up.",
        False,
    ),
}


# --------------------------------------------------------------------------------------
# Step 1: client-side send errors (docs/bounces.md, Step 1)
# --------------------------------------------------------------------------------------

# Error names / exception classes, matched as words in the lowercased text. The first
# entry (in this order) present in the text decides. ESOCKET and ETLS are decided by
# TLS_TEXT below.
CLIENT_ERRORS: dict[str, str] = {
    # our own login
    "eauth": "auth_error",
    "enoauth": "auth_error",
    "eoauth2": "auth_error",
    "smtpauthenticationerror": "auth_error",
    "authenticationfailedexception": "auth_error",
    # TLS
    "sslcertverificationerror": "tls_error",
    "sslerror": "tls_error",
    "etls": "tls_error",
    # network (including DNS lookups of our own relay)
    "enotfound": "network_error",
    "eai_again": "network_error",
    "edns": "network_error",
    "econnrefused": "network_error",
    "etimedout": "network_error",
    "econnreset": "network_error",
    "ehostunreach": "network_error",
    "enetunreach": "network_error",
    "epipe": "network_error",
    "econnection": "network_error",
    "esocket": "network_error",
    "connectionrefusederror": "network_error",
    "smtpserverdisconnected": "network_error",
    "smtpconnecterror": "network_error",
    "mailconnectexception": "network_error",
}
# ESOCKET / ETLS errors whose text is about TLS are tls_error.
TLS_TEXT = re.compile(
    r"certificate|\btls\b|\bssl|x509|wrong version number|self[- ]signed|handshake"
)
# Errors that carry the remote server's reply: classify the reply (steps 2-7) instead.
CLIENT_EMBEDDED_REPLY = (
    r"\b(?:eenvelope|emessage|smtprecipientsrefused|smtpsenderrefused|smtpdataerror"
    r"|smtpfailedrecipientsexception|smtpfailedrecipientexception)\b|the server response was"
)
CLIENT_ERROR_NAMES = r"\b(?:" + "|".join(map(re.escape, CLIENT_ERRORS)) + r")\b"

# What each client error code means and what to do about it, for `bounces explain`: the
# reason table says "network_error" for five of them, but their causes and fixes differ.
# (code, meaning, action); the code is matched as a word, case-insensitively.
CLIENT_ERROR_ADVICE: dict[str, tuple[str, str]] = {
    "enotfound": (
        "ENOTFOUND: DNS has no such host. When the name is the recipient's domain it cannot"
        " be resolved, almost always a typo (gmial.com, hotmial.com); when it is our SMTP"
        " host, that setting is misspelt.",
        "Correct the recipient's domain (or drop the address); if every send fails, check"
        " the SMTP host name in the settings.",
    ),
    "eai_again": (
        "EAI_AGAIN: the DNS lookup timed out or the resolver was unreachable; the name may"
        " well exist.",
        "Retry; if it persists, check this host's DNS resolver and network.",
    ),
    "edns": (
        "EDNS: the DNS lookup of the host failed.",
        "Check the host name and this host's DNS resolver; retry.",
    ),
    "esocket": (
        "ESOCKET: the connection failed at socket level, most often because of TLS/SSL"
        " settings: implicit TLS (port 465) against a STARTTLS port (587/25) or the other"
        " way round, or a certificate the client does not trust.",
        "Match the secure/port settings (465 = TLS from the start, 587 or 25 = STARTTLS),"
        " check the CA bundle and the server's certificate, then resend.",
    ),
    "etls": (
        "ETLS: the TLS handshake (STARTTLS) with the server failed.",
        "Check the TLS settings, the server's certificate and the CA bundle, then resend.",
    ),
    "econnrefused": (
        "ECONNREFUSED: the server actively refused the connection: nothing listens on that"
        " host and port, or a firewall rejects it.",
        "Check the SMTP host and port (25/465/587) and that the server is running; check"
        " firewall rules; retry.",
    ),
    "etimedout": (
        "ETIMEDOUT: the connection or a reply took too long: a firewall silently dropping"
        " the traffic (outbound port 25 is blocked by many cloud and ISP networks) or an"
        " overloaded server.",
        "Check that outbound traffic to that port is allowed (try 587); retry later; raise"
        " the timeout if the server is slow.",
    ),
    "econnreset": (
        "ECONNRESET: the server dropped the connection in the middle of the session: a"
        " connection or idle limit, an anti-abuse cut-off, or a TLS mismatch at connect.",
        "Retry; use fewer parallel connections; if it happens right at connect, check the"
        " TLS settings.",
    ),
    "ehostunreach": (
        "EHOSTUNREACH: no network route to the server's host.",
        "Check this host's network, routing and firewall; retry.",
    ),
    "enetunreach": (
        "ENETUNREACH: this host has no route to that network (often IPv6 without IPv6"
        " connectivity).",
        "Check this host's network; prefer IPv4 if IPv6 is not set up; retry.",
    ),
    "epipe": (
        "EPIPE: the server closed the connection while we were still writing.",
        "Retry; if it repeats for large messages, check the server's size limit.",
    ),
    "econnection": (
        "ECONNECTION: the connection closed unexpectedly.",
        "Retry; check the host, port and TLS settings if it repeats.",
    ),
    "eauth": (
        "EAUTH: the SMTP server refused our login: wrong user name or password, an app"
        " password required, or SMTP AUTH disabled for the account.",
        "Fix the credentials or the account's SMTP settings, then resend.",
    ),
    "enoauth": (
        "ENOAUTH: no credentials were given although the server requires a login.",
        "Configure the SMTP user name and password (or OAuth2 token), then resend.",
    ),
    "eoauth2": (
        "EOAUTH2: the OAuth2 token was refused or could not be refreshed.",
        "Renew the OAuth2 credentials (client secret, refresh token), then resend.",
    ),
    "eenvelope": (
        "EENVELOPE: the envelope was refused: no valid recipient, or the server rejected"
        " the sender or the recipients; the reply it carries decides the reason.",
        "Read the server's reply: fix the sender or recipient addresses it names.",
    ),
    "emessage": (
        "EMESSAGE: the server refused the message itself after it was sent (content, size"
        " or policy); the reply it carries decides the reason.",
        "Read the server's reply: fix the content, size or policy problem it names.",
    ),
}
CLIENT_ADVICE_NAMES = re.compile(r"\b(?:" + "|".join(CLIENT_ERROR_ADVICE) + r")\b")


# --------------------------------------------------------------------------------------
# Step 2: the providers' own classifications (docs/bounces.md, Step 2)
# --------------------------------------------------------------------------------------

# Importers pass the provider's label as `hint`, spelled exactly like this (compared
# case-insensitively):
#   ses:<bounceType>/<bounceSubType>       ses:Permanent/NoEmail
#   ses-delay:<delayType>                  ses-delay:MailboxFull
#   ses-complaint:<complaintSubType>       ses-complaint:OnAccountSuppressionList
#   sendgrid-drop:<reason text>            sendgrid-drop:Bounced Address
#   sendgrid-class:<bounce_classification> sendgrid-class:Reputation
#   mailgun-reason:<reason>                mailgun-reason:suppress-bounce
#   mailgun-code:<code>                    mailgun-code:605
#   postmark:<Type>                        postmark:BadEmailAddress
#   sparkpost:<bounce_class number>        sparkpost:10
#   resend:<bounce type>/<subType>         resend:Permanent/Suppressed  (SES vocabulary)
#   ses-reject:<reason>                    ses-reject:Bad content
#   brevo:<event>                          brevo:hard_bounce
#   mailjet:<hard|soft>/<error>            mailjet:hard/typofix
#   mandrill:<event>/<bounce_description>  mandrill:hard_bounce/bad_mailbox
# Only the specific labels below are trusted; any other hint (Permanent/General,
# HardBounce, bounce_class 1/20/21/...) falls through to the text.
# SES ContentRejected: the text decides between spam_content and content_rejected.
CONTENT_TEXT_DECIDES = "spam_content|content_rejected"
_SES_BOUNCE = {
    "permanent/noemail": "user_unknown",
    "permanent/suppressed": "suppressed",
    "permanent/onaccountsuppressionlist": "suppressed",
    "transient/mailboxfull": "mailbox_full",
    "transient/messagetoolarge": "message_too_large",
    "transient/attachmentrejected": "content_rejected",
    "transient/contentrejected": CONTENT_TEXT_DECIDES,
}
PROVIDER_HINTS: dict[str, str] = {
    **{f"ses:{k}": v for k, v in _SES_BOUNCE.items()},
    # Resend sends through SES and reports SES's bounce type / subtype.
    **{f"resend:{k}": v for k, v in _SES_BOUNCE.items()},
    "ses-delay:mailboxfull": "mailbox_full",
    "ses-delay:spamdetected": "spam_content",
    "ses-delay:transientcommunicationfailure": "network_error",
    "ses-delay:recipientservererror": "server_error",
    # SES complaint notification for an address on the account suppression list: not sent.
    "ses-complaint:onaccountsuppressionlist": "suppressed",
    "sendgrid-drop:bounced address": "suppressed",
    "sendgrid-drop:unsubscribed address": "suppressed",
    "sendgrid-drop:spam reporting address": "suppressed",
    "sendgrid-class:reputation": "reputation",
    "sendgrid-class:frequency or volume too high": "rate_limited",
    "sendgrid-class:content": "spam_content",
    "mailgun-reason:suppress-bounce": "suppressed",
    "mailgun-reason:suppress-unsubscribe": "suppressed",
    "mailgun-reason:suppress-complaint": "suppressed",
    "mailgun-reason:old": "expired",
    "mailgun-reason:greylisted": "greylisted",
    "mailgun-code:605": "suppressed",
    "mailgun-code:607": "suppressed",
    "postmark:bademailaddress": "user_unknown",
    "postmark:dnserror": "network_error",
    "postmark:spamnotification": "spam_content",
    "postmark:virusnotification": "content_rejected",
    "postmark:dmarcpolicy": "auth_policy",
    "postmark:manuallydeactivated": "suppressed",
    "sparkpost:10": "user_unknown",
    "sparkpost:22": "mailbox_full",
    "sparkpost:23": "message_too_large",
    "sparkpost:24": "expired",
    "sparkpost:25": "suppressed",
    "sparkpost:51": "blocklisted",
    "sparkpost:52": "spam_content",
    "sparkpost:53": "content_rejected",
    "sparkpost:54": "relay_denied",
}

# Step 5b: when the text, the enhanced code and the reply code decide nothing, the
# provider's own coarse verdict decides before `other` (docs/bounces.md keeps text first;
# these labels are too coarse to overrule a text, but better than "undetermined").
# Keys as the hints above; looked up as the whole hint, then `provider:<subtype>` (the
# part after "/"), then `provider:<type>` (the part before it). A value is a reason, or
# SOFT_OTHER: the provider says "temporary" without a cause (reason `other`, class soft,
# as a 4xx reply code would make it).
SOFT_OTHER = "other:soft"
PROVIDER_FALLBACK: dict[str, str] = {
    # SES / Resend (SES vocabulary): the bounce type without a trusted subtype
    "ses:permanent": "user_unknown",
    "ses:transient": SOFT_OTHER,
    "resend:permanent": "user_unknown",
    "resend:transient": SOFT_OTHER,
    "ses-reject:bad content": "content_rejected",
    # the status word of an application's own export (generic JSON/CSV), as status_key spells it
    "generic:hard bounce": "user_unknown",
    "generic:hardbounce": "user_unknown",
    "generic:soft bounce": SOFT_OTHER,
    "generic:softbounce": SOFT_OTHER,
    # Brevo event names
    "brevo:hard_bounce": "user_unknown",
    "brevo:invalid_email": "user_unknown",
    "brevo:soft_bounce": SOFT_OTHER,
    "brevo:blocked": "suppressed",
    # SendGrid drop reasons and bounce classifications not trusted in step 2
    "sendgrid-drop:invalid": "user_unknown",
    "sendgrid-drop:invalid address": "user_unknown",
    "sendgrid-class:invalid address": "user_unknown",
    "sendgrid-class:mailbox unavailable": "user_unknown",
    "sendgrid-class:technical failure": SOFT_OTHER,
    # Mailjet `error` values (hint mailjet:<hard|soft>/<error>)
    "mailjet:typofix": "domain_not_found",
    "mailjet:user unknown": "user_unknown",
    "mailjet:mailbox inactive": "mailbox_disabled",
    "mailjet:quota exceeded": "mailbox_full",
    "mailjet:invalid domain": "domain_not_found",
    "mailjet:no mail host": "domain_not_found",
    "mailjet:relay/access denied": "relay_denied",
    "mailjet:greylisted": "greylisted",
    "mailjet:sender blocked": "sender_rejected",
    "mailjet:content blocked": "spam_content",
    "mailjet:policy issue": "policy_rejected",
    "mailjet:preblocked": "suppressed",
    "mailjet:spam reporter": "suppressed",
    "mailjet:duplicate in campaign": "suppressed",
    "mailjet:blacklisted": "suppressed",
    "mailjet:system issue": "server_error",
    "mailjet:connection issue": "network_error",
    "mailjet:error in template language": "content_rejected",
    "mailjet:hard": "user_unknown",
    "mailjet:soft": SOFT_OTHER,
    # Mandrill event / bounce_description (hint mandrill:<event>/<description>)
    "mandrill:bad_mailbox": "user_unknown",
    "mandrill:invalid_domain": "domain_not_found",
    "mandrill:mailbox_full": "mailbox_full",
    "mandrill:hard_bounce": "user_unknown",
    "mandrill:soft_bounce": SOFT_OTHER,
    "mandrill:deferral": SOFT_OTHER,
    # Postmark / Mailgun / SparkPost coarse labels
    "postmark:hardbounce": "user_unknown",
    "postmark:softbounce": SOFT_OTHER,
    "postmark:transient": SOFT_OTHER,
    "postmark:blocked": "policy_rejected",
    "mailgun-reason:bounce": "user_unknown",
    "mailgun-reason:espblock": "policy_rejected",
    "sparkpost:20": SOFT_OTHER,
    "sparkpost:21": "network_error",
    "sparkpost:30": "user_unknown",
    "sparkpost:40": SOFT_OTHER,
    "sparkpost:50": "policy_rejected",
    "sparkpost:70": SOFT_OTHER,
}


# --------------------------------------------------------------------------------------
# Step 3: text patterns (docs/bounces.md, Step 3), in precedence order
# --------------------------------------------------------------------------------------

# (reason, label, regex) on the normalised text: lowercased, whitespace runs collapsed
# to one space, typographic apostrophes made plain. The first *reason* in this list with
# a matching phrase wins, wherever in the text the phrases occur. `W` = "a few words".
W = r"(?:\W+\w+){0,4}?\W+"
# What follows a header name when the complaint is DMARC alignment, not the header's form.
NOT_ALIGNED = r"[^.;]{0,60}\b(?:isn't|is not|not) aligned\b"
TEXT_PATTERNS: list[tuple[str, str, str]] = [
    # 1
    ("suppressed", "suppress", r"suppress"),
    ("suppressed", "previously bounced", r"previously bounced"),
    ("suppressed", "bounced address", r"bounced address"),
    ("suppressed", "unsubscribed address", r"unsubscribed (?:address|recipient)"),
    ("suppressed", "spam reporting address", r"spam reporting address"),
    ("suppressed", "marked as spam", r"marked your messages as spam"),
    ("suppressed", "marked as inactive", r"marked as inactive"),
    ("suppressed", "inactive recipient", r"inactive recipient"),
    # 2
    ("blocklisted", "blocked using", r"blocked using"),
    ("blocklisted", "blacklist", r"black ?list"),
    ("blocklisted", "blocklist", r"block ?list"),
    ("blocklisted", "denylist", r"deny ?list"),
    ("blocklisted", "dnsbl", r"dnsbl"),
    ("blocklisted", "rbl", r"\brbl\b"),
    ("blocklisted", "spamhaus", r"spamhaus"),
    ("blocklisted", "spamcop", r"spamcop"),
    ("blocklisted", "barracudacentral", r"barracudacentral"),
    ("blocklisted", "sorbs", r"\bsorbs\b"),
    ("blocklisted", "uceprotect", r"uceprotect"),
    ("blocklisted", "abuseat", r"abuseat"),
    ("blocklisted", "proofpoint", r"proofpoint\.com/dnsbl|ipcheck\.proofpoint"),
    # Microsoft's own list: "banned sending IP" (5.7.606-649), "banned sender" (5.7.502,
    # 5.7.503, 5.7.511), each with "To request removal from this list"
    (
        "blocklisted",
        "banned sending ip or sender",
        r"banned sending ip|banned sender\b|request removal from (?:this|our|the) list",
    ),
    # "not listed in" is Lotus Domino's unknown user
    ("blocklisted", "listed in", r"(?<!not )\blisted (?:in|at|on|by)\b"),
    ("blocklisted", "is listed", r"is listed"),
    ("blocklisted", "due to listing", r"due to listing"),
    ("blocklisted", "client host blocked", r"client host blocked"),
    ("blocklisted", "microsoft S3140/S3150", r"\(s31[45]0\)"),
    # the receiver's own block list, named by its reason or its lookup
    (
        "blocklisted",
        "blocked for abuse",
        r"\b(?:blocked|banned|blacklisted|listed) (?:for|due to|because of) abuse\b"
        r"|blocked by ldap",
    ),
    # 3
    ("content_rejected", "virus", r"virus"),
    ("content_rejected", "malware", r"malware"),
    ("content_rejected", "infected", r"infected"),
    ("content_rejected", "trojan", r"trojan"),
    ("content_rejected", "attachment", r"attachment"),
    ("content_rejected", "executable", r"executable"),
    ("content_rejected", "banned (amavis)", r"banned:"),
    ("content_rejected", "potential security issue", r"potential security issue"),
    # Not where RFC 5322 only names the From: header whose domain is not aligned with the
    # SPF / DKIM domain (Gmail 4.7.32 / 5.7.32): that is a DMARC failure, auth_policy.
    (
        "content_rejected",
        "rfc 5322",
        r"rfc ?5322(?!" + NOT_ALIGNED + r")|rfc ?2822|not rfc compliant",
    ),
    ("content_rejected", "message-id", r"message-id"),
    ("content_rejected", "duplicate header", r"duplicate header"),
    ("content_rejected", "header error", r"header error|invalid header|header size"),
    ("content_rejected", "headers too large", r"headers? too large"),
    ("content_rejected", "from: header", r"from: header(?!" + NOT_ALIGNED + r")"),
    (
        "content_rejected",
        "malformed message",
        r"message is malformed|malformed (?:message|mime|header)",
    ),
    ("content_rejected", "bare line feed", r"bare (?:lf|linefeed)"),
    ("content_rejected", "8-bit data", r"8-?bit data"),
    ("content_rejected", "mime", r"\bmime\b"),
    # our sending software broke RFC 5321 while handing the message over (bare LF,
    # pipelining before the server allowed it): the code that sends it must change
    (
        "content_rejected",
        "smtp protocol violation",
        r"\bprotocol violation|\bsmtp protocol (?:error|violation)",
    ),
    # RFC 5322's 998-character line limit
    (
        "content_rejected",
        "line too long",
        r"\bline (?:length|limit)|\blines? (?:too long|longer than|exceed)|\btoo long lines?\b",
    ),
    # 4
    ("auth_policy", "spf", r"\bspf\b|sender policy framework"),
    ("auth_policy", "dkim", r"dkim"),
    ("auth_policy", "dmarc", r"dmarc"),
    ("auth_policy", "arc", r"\barc (?:validation|check)"),
    ("auth_policy", "reverse dns", r"\bptr\b|reverse[ -]dns|\brdns\b|reverse hostname|forward dns"),
    ("auth_policy", "hostname lookup", r"cannot find your hostname|ip name lookup failed"),
    ("auth_policy", "helo", r"helo command rejected|bad helo|invalid helo|helo/ehlo"),
    ("auth_policy", "authentication checks", r"authentication (?:checks|information)"),
    # Gmail: "Unauthenticated email is not accepted from this domain", "the sender is
    # unauthenticated"; not our own login ("unauthenticated senders not allowed")
    (
        "auth_policy",
        "unauthenticated email",
        r"unauthenticated e-?mail|sender is unauthenticated|(?:isn't|is not|not) aligned with"
        r" (?:either )?the (?:authenticated )?(?:spf|dkim)",
    ),
    ("auth_policy", "mismatches client ip", r"mismatches client ip"),
    ("auth_policy", "unverifiable sending ip", r"unverif[iy]able sending ip"),
    # the connecting IP is not one the sender domain allows (an SPF-like check by name)
    (
        "auth_policy",
        "ip not allowed for the sender domain",
        r"invalid ip for sending|\bip (?:address )?(?:is )?not (?:allowed|authori[sz]ed|permitted)"
        r" (?:to send )?(?:e?mail )?(?:for|of) (?:the )?(?:sender |sending )?domain",
    ),
    # 5
    ("tls_error", "tls", r"\b(?:start)?tls\b|\bssl\b|ssl_|requiretls|mta-sts|\bdane\b"),
    ("tls_error", "certificate", r"certificate|x509|self[- ]signed|wrong version number"),
    ("tls_error", "handshake", r"(?:tls|ssl) handshake|handshake fail"),
    ("tls_error", "encryption required", r"encryption (?:needed|required)"),
    # 6
    (
        "relay_denied",
        "relay denied",
        r"relay(?:ing)? (?:access )?denied|relay(?:ing)? not (?:permitted|allowed)",
    ),
    (
        "relay_denied",
        "unable to relay",
        r"unable to relay|not (?:permitted|allowed|configured) to relay",
    ),
    ("relay_denied", "no relaying", r"we do not relay|no relaying|open relay|insecure mail relay"),
    ("relay_denied", "relay credentials", r"credentials for relay|allowed rcpthosts"),
    # 7: Exchange recipient restrictions, before auth_error's "authentication required"
    (
        "policy_rejected",
        "exchange recipient restriction",
        r"resolver\.rst\.(?:authrequired|notauthorized|sendernotauthenticated)"
        r"|delivery restriction check failed"
        # Microsoft 5.7.12: the recipient takes mail from inside its organisation only
        r"|not authenticated by the organi[sz]ation",
    ),
    # 8
    (
        "auth_error",
        "authentication failed",
        r"authentication (?:failed|unsuccessful|required|is required|credentials|failure)"
        r"|auth failure",
    ),
    ("auth_error", "invalid login", r"invalid login|login failed|please log ?in"),
    (
        "auth_error",
        "password",
        r"user ?name (?:and|or) password|password not accepted"
        r"|application-specific password|app password",
    ),
    (
        "auth_error",
        "not authenticated",
        r"not authenticated to send|client (?:was )?not authenticated|smtpclientauthentication"
        r"|unauthenticated senders|missing credentials|could not authenticate",
    ),
    ("auth_error", "client auth error", r"\b(?:eauth|enoauth|eoauth2)\b"),
    # 9
    ("sender_rejected", "sender address", r"sender address|envelope sender|domain of sender"),
    (
        "sender_rejected",
        "sender rejected",
        r"sender (?:was )?rejected|sender denied"
        r"|sender (?:is )?not allowed|bad sender|invalid sender|unrout(?:e)?able sender",
    ),
    ("sender_rejected", "sender verification", r"sender verif|verification failed for"),
    ("sender_rejected", "sender domain", r"sender domain|from: domain is invalid"),
    ("sender_rejected", "send as", r"not owned by user|send[ -]as\b|send mail as"),
    ("sender_rejected", "identity not verified", r"address is not verified|identities failed"),
    ("sender_rejected", "rfc5321 from", r"rfc\.?5321 from"),
    # Microsoft 365 5.7.750: a tenant sending from domains it has not registered
    ("sender_rejected", "unregistered sending domain", r"sending from unregistered domain"),
    # 10
    (
        "reputation",
        "reputation",
        r"reputation|user complaints|unsolicited mail originating"
        r"|unusual rate of|unexpected volume",
    ),
    (
        "reputation",
        "unwanted mail from the sender",
        r"\bunwanted (?:e-?mails?|mails?|messages?|traffic)\b"
        r"|suspicious (?:activity|traffic|volume)|abusive (?:traffic|sending|behaviou?r)",
    ),
    # the receiver's verdict on the sending IP or tenant as a whole, without a list:
    # Yahoo "[TSS09] All messages from <ip> will be permanently deferred", Microsoft
    # 5.7.708 "traffic not accepted from this IP", 5.7.705 "tenant has exceeded threshold"
    (
        "reputation",
        "all traffic from the sender refused",
        r"will be permanently deferred|traffic not accepted from|tenant has exceeded threshold",
    ),
    # 11
    ("greylisted", "greylisted", r"gr[ae]y[- ]?list|postgrey"),
    # 12
    ("rate_limited", "rate limit", r"rate[- ]?limit|throttl|slow down|try again slower"),
    (
        "rate_limited",
        "too many",
        r"too many (?:connection|concurrent|session|message|recipient|mail|request)"
        r"|connection limit|maximum number of concurrent|max messages? per connection",
    ),
    ("rate_limited", "too fast", r"too quickly|too fast|receiving mail at a rate"),
    (
        "rate_limited",
        "sending quota",
        r"sending (?:limit|quota|rate)|message quota|submission ?quota"
        r"|\b(?:daily|hourly)" + W + r"(?:limit|quota)|per hour|this hour"
        r"|excessive volume|frequency limited",
    ),
    # 13
    ("mailbox_full", "mailbox full", r"\bmailbox" + W + r"(?:full|exceed\w*)\b"),
    (
        "mailbox_full",
        "over quota",
        r"over ?quota|quota exceed|exceeded (?:(?:its|their|the) )?(?:mailbox |storage |disk )?quota"
        r"|over (?:the|his|her|their|its) (?:storage |mailbox |disk )?quota"
        r"|quota (?:full|reached|exhausted)|\binbox (?:is )?full|\bfull (?:mailbox|inbox)\b"
        r"|disk quota|storage quota",
    ),
    (
        "mailbox_full",
        "out of storage",
        r"out of storage|storage space|exceeded storage allocation|mailfolder is full",
    ),
    (
        "mailbox_full",
        "mailbox full (other languages)",
        r"postfach (?:ist )?voll|\bpleine\b|buzón lleno|casella piena"
        r"|caixa (?:postal|de correio) cheia|ящик переполнен",
    ),
    # 14
    (
        "message_too_large",
        "message too large",
        r"message (?:is )?too (?:large|big)|too (?:large|big) for|file too big",
    ),
    (
        "message_too_large",
        "size limit",
        r"size exceeds|message size|size limit|message length exceeds|taille limite",
    ),
    # 15
    ("spam_content", "spam", r"spam|unsolicited|\bube\b|bulk e?mail|\bjunk\b|content filter"),
    ("spam_content", "provider spam verdict", r"dt:spm|mail content denied"),
    # Gmail: "suspicious due to the nature of the content and/or the links within"
    (
        "spam_content",
        "suspicious content",
        r"nature of the content|suspicious (?:content|links?)\b",
    ),
    # 16
    (
        "expired",
        "retry timeout",
        r"retry timeout exceeded|failing for a long time|long failure period",
    ),
    (
        "expired",
        "message expired",
        r"message expired|queue\.expired|delivery (?:time )?expired|envelope expired|expired after",
    ),
    (
        "expired",
        "gave up",
        r"queue too long|could not be delivered for|could not deliver for|not delivered within"
        r"|after multiple retries|unable to deliver this message after|max time without delivery",
    ),
    (
        "expired",
        "attempts exhausted",
        r"failed (?:after )?\d+ (?:delivery )?(?:attempts|retries|tries)"
        r"|after \d+ (?:delivery )?(?:attempts|retries|tries)"
        r"|(?:attempts|retries) (?:exhausted|exceeded)|retry (?:count|limit) (?:exceeded|reached)"
        r"|max(?:imum)? (?:number of )?(?:delivery )?(?:attempts|retries)"
        r"|too many (?:delivery )?(?:attempts|retries)",
    ),
    # 17: temporary DNS failure, before domain_not_found
    (
        "network_error",
        "temporary dns failure",
        r"host not found, try again|temporary failure in name resolution|servfail"
        r"|dns query failed|host name lookup failure|name server reply|\beai_again\b",
    ),
    # 18
    (
        "domain_not_found",
        "domain not found",
        r"domain (?:name )?not found|no such domain|domain (?:does not|doesn't) exist"
        r"|domain is not reachable|unknown domain|invalid domain|nxdomain|null ?mx"
        r"|(?:nonexistent|non-existent) domain|find the recipient domain"
        r"|the domain \S+ couldn't be found",
    ),
    (
        "domain_not_found",
        "no mail service",
        r"does not accept mail|doesn't receive email|indicated no smtp service",
    ),
    (
        "domain_not_found",
        "no mx",
        r"no mx (?:record|found)|find a mail exchanger|couldn't find any host|no relevant answers"
        r"|find (?:an? |the |any )?mx\b|\bmx (?:records? )?(?:not found|does not exist)"
        r"|no mail ?host|no mail server",
    ),
    (
        "domain_not_found",
        "unknown host",
        r"unrout(?:e)?able address|host unknown|unknown host|illegal host/domain|non-existent host",
    ),
    # 19
    ("mailbox_disabled", "disabled", r"disabled|deactivated|\binactive\b|frozen|discontinued"),
    (
        "mailbox_disabled",
        "suspended",
        r"\b(?:account|mailbox|user|recipient|address)" + W + r"suspend|has been suspended",
    ),
    (
        "mailbox_disabled",
        "account locked",
        r"account is (?:locked|blocked)|\bcompte" + W + r"bloqu|no longer active"
        # "User x@example.org temporary locked"; not a mailbox file locked by another
        # process, which is a passing fault of the receiving host
        r"|\b(?:account|user)" + W + r"(?:temporar(?:il)?y )?locked\b(?! by another)"
        r"|account (?:has been )?closed",
    ),
    # 20
    (
        "user_unknown",
        "user unknown",
        r"user unknown|unknown user|unknown recipient|recipient unknown|no such (?:user|recipient"
        r"|mailbox|person)|user not found|recipient not found|recipientnotfound|recipnotfound",
    ),
    (
        "user_unknown",
        "does not exist",
        r"does not exist|doesn't exist|(?:user|recipient|mailbox|address|account) not exist",
    ),
    (
        "user_unknown",
        "invalid recipient",
        r"invalid (?:recipient|mailbox)|\bno mailbox|mailbox not found"
        r"|not a valid (?:mailbox|recipient|user)|bad destination mailbox",
    ),
    (
        "user_unknown",
        "invalid user or address",
        r"invalid (?:final delivery )?user(?: ?id|name| name)?\b|\b(?:unknown|bad) user ?id\b"
        r"|\buser ?id (?:unknown|invalid|not found)|no such user ?id"
        r"|invalid (?:e-?mail )?address|\b(?:recipient|address) (?:is )?(?:invalid|not valid)",
    ),
    (
        "user_unknown",
        "not our user",
        r"not our (?:user|customer)|no longer on server|has moved|couldn't be found|wasn't found at"
        r"|no such address|unknown address|address(?:ee)? unknown|not a known (?:user|recipient)"
        r"|not listed in|doesn't have an? \S+ account|unknown local[- ]part|illegal alias",
    ),
    (
        "user_unknown",
        "user unknown (other languages)",
        r"utilisateur inconnu|destinataire inconnu|benutzer unbekannt|empfänger unbekannt"
        r"|unbekannter empfänger|usuario desconocido|no existe|utente inesistente"
        r"|utente sconosciuto|usuário desconhecido|пользователь не|нет такого",
    ),
    # 21
    (
        "network_error",
        "client network error",
        r"\b(?:enotfound|econnrefused|etimedout|econnreset|ehostunreach|enetunreach|epipe"
        r"|esocket|econnection|edns)\b",
    ),
    (
        "network_error",
        "connection refused",
        # "Connection refused by policy" is a receiver's verdict, not a TCP refusal
        r"connection refused(?! (?:by|due to|because of) (?:\w+ ){0,2}polic)|timed out"
        r"|\btimeout\b|no route to host|unreachable|not reachable",
    ),
    (
        "network_error",
        "connection lost",
        r"connection reset|reset by peer|lost connection|connection (?:dropped|closed"
        r"|unexpectedly closed)|broken pipe|socket error|read error|socket hang up",
    ),
    (
        "network_error",
        "could not connect",
        r"(?:could not|couldn't|unable to|failed to) connect|able to establish"
        r"|requests to connect|greeting never received|connect\(\) failed",
    ),
    ("network_error", "host lookup failed", r"name or service not known|no such host|getaddrinfo"),
    ("network_error", "network error", r"\bnetwork (?:error|failure|problem)"),
    (
        "network_error",
        "no response",
        r"\b(?:host|server) (?:is )?not responding|did not respond|no response from",
    ),
    # 22
    (
        "server_error",
        "local error",
        r"local error in processing|local problem|system problem|internal (?:server |system )?error"
        r"|server error|configuration error|mailer error|operating system error|command died"
        r"|\bsystem (?:error|failure)",
    ),
    (
        "server_error",
        "insufficient resources",
        r"insufficient (?:system (?:storage|resources)|disk space)|queue file write error"
        r"|resources temporarily unavailable",
    ),
    (
        "server_error",
        "service not available",
        r"service (?:is )?(?:temporarily |currently )?not available|temporary lookup failure"
        r"|could not load drd"
        r"|not accepting network messages|server busy",
    ),
    ("server_error", "mail loop", r"\bloop|too many hops|hop count|misconfigur"),
    ("server_error", "local delivery program", r"^x-unix;"),
    (
        "server_error",
        "local delivery program failed",
        r"pipe to \||\bprocmail\b|\bmaildrop\b|delivery program|local delivery (?:failed|error)"
        r"|\bprocess (?:of \S+ )?(?:returned|exited|terminated)|\bcommand (?:failed|exited|returned)"
        r"|\bex_(?:tempfail|software|oserr|ioerr|unavailable|config|cantcreat)\b",
    ),
    # 23: policy's generic words last
    (
        "policy_rejected",
        "policy",
        r"polic(?:y|ies)|administrative prohibition|not authori[sz]ed|recipient preferences"
        r"|resolver\.rst\.",
    ),
    (
        "policy_rejected",
        "host or network not allowed",
        r"\b(?:host|network|ip|ip address|client|connection|access) (?:is )?not"
        r" (?:allowed|permitted)|not allowed to (?:connect|send)"
        # the recipient domain takes mail only from listed IPs (Gmail "IP not in
        # whitelist for RCPT domain"); an allowlist, so after reputation's words
        r"|not in (?:the )?(?:white ?list|allow ?list)",
    ),
    # receivers that take no mail straight from dynamic / residential IPs, and
    # Outlook.com's "messages from <ip> weren't sent" without a cause
    (
        "policy_rejected",
        "sending IP refused",
        r"dynamic(?:ally assigned)? ip|dynamic (?:ip )?address|residential (?:ip|address)"
        r"|smtp (?:server|relay) (?:of|at) your (?:isp|service provider|provider)"
        r"|(?:isp|provider)'s (?:mail|smtp) (?:server|relay)|messages from \S+ weren't sent",
    ),
    # our own organisation's outbound rules (Microsoft 365 "blocked by your organization")
    (
        "policy_rejected",
        "blocked by our organisation",
        r"blocked by your organi[sz]ation|organi[sz]ation does not allow",
    ),
    # a greeting that refuses this client (RFC 5321 3.1: 554 instead of 220), as
    # sendmail's access map and Proofpoint / iCloud gateways word it
    (
        "policy_rejected",
        "not accepting connections from us",
        r"esmtp not accepting (?:connections|messages|mail)"
        r"|not accepting (?:connections|messages|mail) from\b",
    ),
    # a mailing list or group that takes posts only from its members (Google Groups,
    # Mailman, Sympa): the recipient side restricts who may send
    (
        "policy_rejected",
        "not allowed to post to the list",
        r"\bpermission to post\b|\bnot (?:allowed|permitted) to post\b"
        r"|\bnon-?member (?:post|submission)|\bmembers[- ]only (?:list|group|mailing list)"
        # Google Groups in Japanese: "no permission to post (messages) to the group"
        r"|投稿する権限|投稿権限",
    ),
]


# --------------------------------------------------------------------------------------
# Step 4: enhanced status codes (docs/bounces.md, Step 4); "X" = 4 or 5
# --------------------------------------------------------------------------------------

ENHANCED_CODES: dict[str, str] = {
    "X.1.0": "user_unknown",
    "X.1.1": "user_unknown",
    "X.1.2": "domain_not_found",
    "X.1.3": "user_unknown",
    "X.1.6": "user_unknown",
    "X.1.7": "sender_rejected",
    "X.1.8": "sender_rejected",
    "X.1.10": "domain_not_found",
    "5.2.1": "mailbox_disabled",  # 4.2.1 is a rate / refusal deferral in practice: no reason
    "X.2.2": "mailbox_full",
    "X.2.3": "message_too_large",
    "X.3.0": "server_error",
    "X.3.1": "server_error",
    "X.3.2": "server_error",
    "X.3.4": "message_too_large",
    "X.3.5": "server_error",
    "X.4.0": "network_error",
    "X.4.1": "network_error",
    "X.4.2": "network_error",
    "X.4.3": "network_error",
    "5.4.4": "domain_not_found",
    "4.4.4": "network_error",
    "X.4.5": "server_error",
    "X.4.6": "server_error",
    "X.4.7": "expired",
    "X.5.3": "rate_limited",
    "X.5.6": "auth_error",
    **{f"X.6.{d}": "content_rejected" for d in range(12)},
    "5.7.0": "policy_rejected",  # 4.7.0 / 4.7.1: greylisting, throttling, blocks alike
    "5.7.1": "policy_rejected",
    "X.7.2": "policy_rejected",
    "X.7.3": "auth_error",
    "X.7.4": "tls_error",
    "X.7.5": "tls_error",
    "X.7.6": "tls_error",
    "X.7.8": "auth_error",
    "X.7.9": "auth_error",
    "X.7.10": "tls_error",
    "X.7.11": "tls_error",
    "X.7.12": "auth_error",
    "X.7.13": "mailbox_disabled",
    "X.7.14": "policy_rejected",
    "X.7.16": "message_too_large",
    "X.7.17": "user_unknown",
    "X.7.18": "user_unknown",
    "X.7.20": "auth_policy",
    "X.7.21": "auth_policy",
    "X.7.22": "auth_policy",
    "X.7.23": "auth_policy",
    "X.7.24": "auth_policy",
    "X.7.25": "auth_policy",
    "X.7.26": "auth_policy",
    "X.7.27": "sender_rejected",
    "X.7.28": "reputation",
    "X.7.29": "auth_policy",
    "X.7.30": "tls_error",
    # Microsoft 365 / Exchange Online detail codes outside the registry
    "5.7.509": "auth_policy",
    "5.7.57": "auth_error",
    "5.7.139": "auth_error",
    "5.7.54": "relay_denied",
    "5.7.64": "relay_denied",
    **{f"5.7.{d}": "blocklisted" for d in range(606, 650)},
    "5.7.511": "blocklisted",
    "5.7.513": "blocklisted",
    "5.7.512": "content_rejected",
    "5.7.124": "policy_rejected",
    "5.7.133": "policy_rejected",
    "5.7.134": "policy_rejected",
    # Microsoft 4.7.500-4.7.699: the sending IP is restricted while its activity is evaluated
    **{f"4.7.{d}": "reputation" for d in range(500, 700)},
    "5.7.705": "reputation",
    "5.7.708": "reputation",
    "5.7.750": "sender_rejected",
    "5.7.501": "blocklisted",
    "5.7.502": "blocklisted",
    "5.7.503": "blocklisted",
    "5.7.510": "policy_rejected",
    "5.7.520": "policy_rejected",
    "4.7.321": "tls_error",
    "4.4.317": "tls_error",
}

# Codes whose meaning depends on the text around them: (code key, text regex, reason).
# Microsoft 365 "550 5.4.1 Recipient address rejected: Access denied" is directory-based
# edge blocking of an unknown recipient, not "no answer from host".
ENHANCED_CODE_TEXT: list[tuple[str, re.Pattern[str], str]] = [
    ("X.4.1", re.compile(r"access denied|recipient address rejected"), "user_unknown"),
]


# --------------------------------------------------------------------------------------
# Step 5: bare reply codes
# --------------------------------------------------------------------------------------

REPLY_CODES: dict[int, str] = {
    521: "domain_not_found",
    556: "domain_not_found",
    530: "auth_error",
    534: "auth_error",
    535: "auth_error",
    551: "user_unknown",
}


CONNECT_STAGE = re.compile(
    r"after initial connection|refused to talk to me|but my name was rejected"
    r"|after (?:ehlo|helo)\b|in reply to (?:ehlo|helo) command"
)
MAIL_FROM_STAGE = re.compile(
    r"in reply to mail from command|after mail from|but sender was rejected|\[mail_from\]"
)
# Transport wrappers and boilerplate that name no cause (removed before step 3).
WRAPPERS = re.compile(
    r"connected to \S+ but (?:sender|my name) was rejected\.?"
    r"|does not like recipient\.?|remote host said:|giving up on \S+"
    r"|to (?:best )?protect our users from spam(?: (?:\(and phishing\)|and phishing))?"
    r"|to reduce the amount of spam(?: sent to gmail)?"
    # advice that names no cause (Resend / SES stock hard-bounce text)
    r"|(?:can |may |could |will )?ha(?:ve|s) a negative (?:impact|effect) on your"
    r" (?:\w+ )?reputation(?: as an? (?:e-?mail )?sender)?"
)
