"""Bounce classification: (status, reply code, enhanced code, text, provider label) -> verdict.

A pure, table-driven implementation of ``docs/bounces.md``. The rules are data, kept
together below so that a person can read them against the spec and extend them:

- ``REASONS``            the 22 reasons: class, meaning, action, soft-suppression counting
- ``CLIENT_ERRORS``      step 1: client library error names -> reason
- ``PROVIDER_HINTS``     step 2: the providers' own specific labels -> reason
- ``TEXT_PATTERNS``      step 3: phrases per reason, in precedence order
- ``ENHANCED_CODES``     step 4: RFC 3463 / IANA enhanced status codes -> reason
- ``REPLY_CODES``        step 5: bare SMTP reply codes -> reason
- ``CONNECT_STAGE`` / ``MAIL_FROM_STAGE``  step 6: SMTP stage correction

Nothing here does I/O, looks at the clock or at other events: the same inputs always
give the same verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

BOUNCE_STATUSES = frozenset({"bounced", "deferred", "dropped", "failed"})

HARD, SOFT, BLOCK, UNDETERMINED = "hard", "soft", "block", "undetermined"


@dataclass(frozen=True)
class Verdict:
    bounce_class: str  # hard | soft | block | undetermined
    bounce_reason: str  # a key of REASONS
    rule: str  # which step / table entry decided, for `bounces explain`


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


# --------------------------------------------------------------------------------------
# Step 3: text patterns (docs/bounces.md, Step 3), in precedence order
# --------------------------------------------------------------------------------------

# (reason, label, regex) on the normalised text: lowercased, whitespace runs collapsed
# to one space, typographic apostrophes made plain. The first *reason* in this list with
# a matching phrase wins, wherever in the text the phrases occur. `W` = "a few words".
W = r"(?:\W+\w+){0,4}?\W+"
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
    ("blocklisted", "banned sending ip", r"banned sending ip"),
    # "not listed in" is Lotus Domino's unknown user
    ("blocklisted", "listed in", r"(?<!not )\blisted (?:in|at|on|by)\b"),
    ("blocklisted", "is listed", r"is listed"),
    ("blocklisted", "due to listing", r"due to listing"),
    ("blocklisted", "client host blocked", r"client host blocked"),
    ("blocklisted", "microsoft S3140/S3150", r"\(s31[45]0\)"),
    # 3
    ("content_rejected", "virus", r"virus"),
    ("content_rejected", "malware", r"malware"),
    ("content_rejected", "infected", r"infected"),
    ("content_rejected", "trojan", r"trojan"),
    ("content_rejected", "attachment", r"attachment"),
    ("content_rejected", "executable", r"executable"),
    ("content_rejected", "banned (amavis)", r"banned:"),
    ("content_rejected", "potential security issue", r"potential security issue"),
    ("content_rejected", "rfc 5322", r"rfc ?5322|rfc ?2822|not rfc compliant"),
    ("content_rejected", "message-id", r"message-id"),
    ("content_rejected", "duplicate header", r"duplicate header"),
    ("content_rejected", "header error", r"header error|invalid header|header size"),
    ("content_rejected", "headers too large", r"headers? too large"),
    ("content_rejected", "from: header", r"from: header"),
    (
        "content_rejected",
        "malformed message",
        r"message is malformed|malformed (?:message|mime|header)",
    ),
    ("content_rejected", "bare line feed", r"bare (?:lf|linefeed)"),
    ("content_rejected", "8-bit data", r"8-?bit data"),
    ("content_rejected", "mime", r"\bmime\b"),
    # 4
    ("auth_policy", "spf", r"\bspf\b|sender policy framework"),
    ("auth_policy", "dkim", r"dkim"),
    ("auth_policy", "dmarc", r"dmarc"),
    ("auth_policy", "arc", r"\barc (?:validation|check)"),
    ("auth_policy", "reverse dns", r"\bptr\b|reverse[ -]dns|\brdns\b|reverse hostname|forward dns"),
    ("auth_policy", "hostname lookup", r"cannot find your hostname|ip name lookup failed"),
    ("auth_policy", "helo", r"helo command rejected|bad helo|invalid helo|helo/ehlo"),
    ("auth_policy", "authentication checks", r"authentication (?:checks|information)"),
    ("auth_policy", "mismatches client ip", r"mismatches client ip"),
    ("auth_policy", "unverifiable sending ip", r"unverif[iy]able sending ip"),
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
        r"|delivery restriction check failed",
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
        r"username and password|password not accepted"
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
    # 10
    (
        "reputation",
        "reputation",
        r"reputation|user complaints|unsolicited mail originating"
        r"|unusual rate of|unexpected volume",
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
        r"no mx (?:record|found)|find a mail exchanger|couldn't find any host|no relevant answers",
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
        "not our user",
        r"not our (?:user|customer)|no longer on server|has moved|couldn't be found|wasn't found at"
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
        r"connection refused|timed out|\btimeout\b|no route to host|unreachable|not reachable",
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
    # 22
    (
        "server_error",
        "local error",
        r"local error in processing|local problem|system problem|internal (?:server |system )?error"
        r"|server error|configuration error|mailer error|operating system error|command died",
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
        r"service not available|temporary lookup failure|could not load drd"
        r"|not accepting network messages|server busy",
    ),
    ("server_error", "mail loop", r"\bloop|too many hops|hop count|misconfigur"),
    ("server_error", "local delivery program", r"^x-unix;"),
    # 23: policy's generic words last
    (
        "policy_rejected",
        "policy",
        r"polic(?:y|ies)|administrative prohibition|not authori[sz]ed|recipient preferences"
        r"|resolver\.rst\.",
    ),
]


def _split_top(src: str, sep: str = "|") -> list[str]:
    """Split a regex source at top-level `sep`, respecting escapes, groups and classes."""
    parts, depth, in_class, i, last = [], 0, False, 0, 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if src[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(src[last:i])
            last = i + 1
        i += 1
    parts.append(src[last:])
    return parts


def _group_end(src: str, start: int) -> int:
    """Index of the parenthesis closing the group that opens at src[start]."""
    depth, i = 0, start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(src[i], 0)
        if depth == 0:
            return i
        i += 1
    raise ValueError(f"unbalanced pattern: {src!r}")


_SPECIAL = frozenset(".^$*+?{}[]()|\\")


def _leaf_parts(leaf: str) -> tuple[str, str]:
    """(literal prefix, rest) of one alternative, its leading assertions moved into rest.

    A leading `\b` (before a word character), `^` or lookbehind becomes a lookbehind
    placed after the literal prefix, so every alternative starts with a literal and the
    alternatives can share a trie of prefixes.
    """
    guards: list[tuple[str, str]] = []  # (operator "!" or "=", what precedes)
    while True:
        if leaf.startswith("\\b"):
            guards.append(("!", r"\w"))
            leaf = leaf[2:]
        elif leaf.startswith("^"):
            guards.append(("!", "."))
            leaf = leaf[1:]
        elif leaf.startswith(("(?<!", "(?<=")):
            end = _group_end(leaf, 0)
            guards.append((leaf[3], leaf[4:end]))
            leaf = leaf[end + 1 :]
        else:
            break
    prefix, i = "", 0
    while i < len(leaf):
        if leaf[i] == "\\" and i + 1 < len(leaf) and not leaf[i + 1].isalnum():
            char, step = leaf[i + 1], 2
        elif leaf[i] not in _SPECIAL:
            char, step = leaf[i], 1
        else:
            break
        if leaf[i + step : i + step + 1] in ("?", "*", "+", "{"):
            break
        prefix, i = prefix + char, i + step
    if not prefix:
        raise ValueError(f"text pattern alternative must start with a literal: {leaf!r}")
    width = "." * len(prefix)
    return prefix, "".join(f"(?<{op}{before}{width})" for op, before in guards) + leaf[i:]


def _trie_regex(leaves: list[tuple[str, str]]) -> str:
    """A regex matching any of the (literal prefix, rest) alternatives, prefixes shared."""
    trie: dict = {}
    for prefix, rest in leaves:
        node = trie
        for char in prefix:
            node = node.setdefault(char, {})
        node.setdefault("", []).append(rest)

    def emit(node: dict) -> str:
        alts = [re.escape(c) + emit(child) for c, child in node.items() if c]
        alts += node.get("", [])
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(trie)


def _leaves(src: str) -> list[tuple[str, str]]:
    return [_leaf_parts(x) for top in _split_top(src) for x in _expand(top)]


def _expand(leaf: str) -> list[str]:
    """Expand a leading `(?:a|b)` / `(?:a|b)?` group into separate alternatives."""
    i = 0
    while leaf.startswith(("\\b", "^", "(?<!", "(?<="), i):
        i = i + 1 if leaf[i] == "^" else i + 2 if leaf[i] == "\\" else _group_end(leaf, i) + 1
    if not leaf.startswith("(?:", i):
        return [leaf]
    end = _group_end(leaf, i)
    head, inner, tail = leaf[:i], leaf[i + 3 : end], leaf[end + 1 :]
    optional = tail.startswith("?")
    tail = tail[1:] if optional else tail
    alts = [head + a + tail for a in _split_top(inner)] + ([head + tail] if optional else [])
    return [x for a in alts for x in _expand(a)]


def _build_scan(
    patterns: list[tuple[str, str, str]],
) -> tuple[re.Pattern[str], dict[str, tuple[re.Pattern[str], dict[str, int]]]]:
    """One regex for all phrases, plus per-first-character regexes that name the phrase.

    Python's re tries alternatives one after another at every position; sharing literal
    prefixes in a trie lets it reject most positions with a comparison or two. The scan
    has no capturing groups (hundreds of them would make every backtrack copy the group
    marks); where it matches, the small regex for that first character, whose named
    groups map back to entries of `patterns` in order, tells which phrase it was.
    """
    all_leaves: list[tuple[str, str]] = []
    by_first: dict[str, list[tuple[int, str]]] = {}
    for index, (_, _, src) in enumerate(patterns):
        for prefix, rest in _leaves(src):
            all_leaves.append((prefix, rest))
            by_first.setdefault(prefix[0], []).append((index, re.escape(prefix[1:]) + rest))
    which = {}
    for c, alts in by_first.items():
        groups = "|".join(f"(?P<g{n}>{alt})" for n, (_, alt) in enumerate(alts))
        which[c] = (
            re.compile(f"{re.escape(c)}(?:{groups})"),
            {f"g{n}": index for n, (index, _) in enumerate(alts)},
        )
    return re.compile(_trie_regex(all_leaves)), which


def _compile_fast(src: str) -> re.Pattern[str]:
    """Compile an alternation as a trie of literal prefixes (see _build_scan)."""
    return re.compile(_trie_regex(_leaves(src)))


_EMBEDDED_REPLY = _compile_fast(CLIENT_EMBEDDED_REPLY)
_CLIENT_NAMES = _compile_fast(CLIENT_ERROR_NAMES)

# Every phrase in one regex (see _build_scan); match_text finds each position where some
# phrase starts and keeps the entry with the lowest index in TEXT_PATTERNS.
_TEXT_SCAN, _SCAN_WHICH = _build_scan(TEXT_PATTERNS)


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
    "4.7.650": "reputation",
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


# --------------------------------------------------------------------------------------
# Step 0 / step 6: normalisation, code extraction, SMTP stage
# --------------------------------------------------------------------------------------

# A reply code: 2xx/4xx/5xx, not part of a longer or dotted number, followed by space,
# "-", ":" or the end.
_REPLY_CODE = re.compile(r"(?<![\w.:])([245]\d\d)(?=[ \-:]|$)")
# An enhanced code class.subject.detail, not part of a longer dotted number (so IP
# addresses and Yahoo's 4.16.55.1 do not count); "#5.1.1" and "(#4.4.1)" do.
_ENHANCED_CODE = re.compile(r"(?<![\w.])([245])\.([0-7])\.(\d{1,3})(?!\d|\.\d)")

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
)
# Addresses name no cause: "<nospam@x>" or "mailbox-full@x" must not match a phrase.
_ADDRESS = re.compile(r"[\w.+'=/%-]+@[\w-]+(?:\.[\w-]+)+")
# Hard-address results that the stage turns into a statement about us.
_STAGE_AFFECTED = frozenset({"user_unknown", "domain_not_found"})


def normalise_text(text: str | None) -> str:
    """Lowercase, collapse whitespace, plain apostrophes (docs/bounces.md, Step 0)."""
    if not text:
        return ""
    return " ".join(text.lower().replace("\u2019", "'").split())


def extract_codes(text: str | None) -> tuple[int | None, str | None]:
    """The first reply code and the first enhanced code in a normalised text (step 0)."""
    if not text:
        return None, None
    m = _REPLY_CODE.search(text)
    e = _ENHANCED_CODE.search(text)
    return (int(m.group(1)) if m else None), (".".join(e.groups()) if e else None)


def _clean_enhanced(code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().lstrip("#(").rstrip(")")
    m = _ENHANCED_CODE.fullmatch(code)
    return ".".join(m.groups()) if m else None


def reason_class(reason: str, smtp_code: int | None, enhanced_code: str | None) -> str:
    """The class of a reason; for `other`, soft when the failure is transient."""
    cls = REASONS[reason].bounce_class
    if cls is not None:
        return cls
    first = enhanced_code[0] if enhanced_code else (str(smtp_code)[0] if smtp_code else "")
    return SOFT if first == "4" else UNDETERMINED


def match_text(text: str) -> tuple[str, str] | None:
    """Step 3 on a normalised text: (reason, label) of the highest-precedence phrase.

    TEXT_PATTERNS is in precedence order, so the matching entry with the lowest index
    wins (a reason listed twice, such as network_error, has two precedence slots).
    """
    best = len(TEXT_PATTERNS)
    pos = 0
    while (m := _TEXT_SCAN.search(text, pos)) is not None:
        pos = m.start()
        rx, names = _SCAN_WHICH[text[pos]]
        best = min(best, names[rx.match(text, pos).lastgroup])
        if best == 0:
            break
        pos += 1
    if best == len(TEXT_PATTERNS):
        return None
    reason, label, _ = TEXT_PATTERNS[best]
    return reason, label


def lookup_enhanced(code: str | None, text: str = "") -> str | None:
    """Step 4: the reason of an enhanced code, exact code first, then the X. row."""
    if not code:
        return None
    generic = "X." + code.split(".", 1)[1]
    for key, rx, reason in ENHANCED_CODE_TEXT:
        if key in (code, generic) and rx.search(text):
            return reason
    return ENHANCED_CODES.get(code) or ENHANCED_CODES.get(generic)


def _client_error(text: str) -> tuple[str, str] | None:
    """Step 1: (reason, name) for a client library error that embeds no server reply."""
    if _EMBEDDED_REPLY.search(text):
        return None
    names = {m.group() for m in _CLIENT_NAMES.finditer(text)}
    if not names:
        return None
    for name, reason in CLIENT_ERRORS.items():
        if name in names:
            if name in ("esocket", "etls") and TLS_TEXT.search(text):
                return "tls_error", name
            return reason, name
    return None


def _hint_reason(hint: str | None, text: str) -> tuple[str, str] | None:
    """Step 2: (reason, rule) for a trusted provider label."""
    if not hint:
        return None
    key = hint.strip().lower()
    reason = PROVIDER_HINTS.get(key)
    if reason is None:
        return None
    if reason == CONTENT_TEXT_DECIDES:
        found = match_text(text)
        reason = found[0] if found and found[0] == "content_rejected" else "spam_content"
    provider, _, label = hint.strip().partition(":")
    return reason, f"provider: {provider} {label}"


@lru_cache(maxsize=65536)
def _classify(
    smtp_code: int | None, enhanced_code: str | None, diagnostic: str | None, hint: str | None
) -> Verdict:
    text = normalise_text(diagnostic)
    code_in_text, enhanced_in_text = extract_codes(text)
    if smtp_code is None:
        smtp_code = code_in_text
    enhanced = _clean_enhanced(enhanced_code)
    if enhanced is None or enhanced.endswith(".0.0"):
        enhanced = enhanced_in_text or enhanced

    def verdict(reason: str, rule: str) -> Verdict:
        return Verdict(reason_class(reason, smtp_code, enhanced), reason, rule)

    # Step 0.4: note the stage, then drop wrappers that name no cause.
    stage = None
    if text:
        if CONNECT_STAGE.search(text):
            stage = "connection/HELO", "auth_policy"
        elif MAIL_FROM_STAGE.search(text):
            stage = "MAIL FROM", "sender_rejected"
        text = _ADDRESS.sub("_addr_", WRAPPERS.sub(" ", text))

    # Step 1: client-side failures.
    client = _client_error(text) if text else None
    if client:
        return verdict(client[0], f"client error {client[1].upper()}")

    # Step 2: the provider's own specific label.
    provided = _hint_reason(hint, text)
    if provided:
        return verdict(*provided)

    # Steps 3-5: text, enhanced code, reply code.
    found = match_text(text) if text else None
    if found:
        reason, rule = found[0], f"text: {found[1]}"
    elif (reason := lookup_enhanced(enhanced, text)) is not None:
        rule = f"enhanced code {enhanced}"
    elif smtp_code in REPLY_CODES:
        reason, rule = REPLY_CODES[smtp_code], f"reply code {smtp_code}"
    else:
        # Step 7.
        return verdict("other", "nothing matched")

    # Step 6: a hard-address verdict given at connection / MAIL FROM is about us.
    if stage and reason in _STAGE_AFFECTED:
        rule = f"{rule}; refused at {stage[0]} -> {stage[1]}"
        reason = stage[1]
    return verdict(reason, rule)


def classify(
    status: str | None,
    smtp_code: int | None,
    enhanced_code: str | None,
    diagnostic: str | None,
    hint: str | None = None,
) -> Verdict | None:
    """Classify one event; None when status is not a bounce status.

    A status of None means "classify anyway" (used by `bounces explain`).
    """
    if status is not None and status not in BOUNCE_STATUSES:
        return None
    return _classify(smtp_code or None, enhanced_code or None, diagnostic or None, hint or None)
