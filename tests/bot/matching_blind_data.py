"""The third job-matching set: written blind, measured once, then used for tuning.

Written after the first tuning, from the templates (bot/templates/templates.yaml)
and the tokenizer (bot/text.py) alone: blind to the matcher, its word groups
and the messages of the other sets. The messages are what users of a Slack or
Discord workspace, and customers and prospects of a support bot, would type.
Same kinds and proportions as tests/bot/matching_eval_data.py: per job 3
``plain``, 2 ``paraphrase`` and 2 ``no_keyword`` (labels checked with
`shared_words`), plus 22 ``none``.

Measured once as written (lexical top-1 75%), it then took part in the
tuning (which job fields give a job its word groups); the fresh set
(matching_fresh_data.py) never did."""

from __future__ import annotations

from tests.bot.matching_eval_data import Case, _cases

BLIND: tuple[Case, ...] = tuple([
    # --- profile-setup ---
    *_cases("profile-setup", "plain",
            "where do i fill in my profile? just joined and it's empty lol",
            "how can i add a profile photo, mine's still the grey default",
            "need to change my display name and time zone, it thinks im in PST but im in berlin"),
    *_cases("profile-setup", "paraphrase",
            "just got added here, how do i make it show my actual job title instead of 'member'",
            "notifications keep pinging me at 3am 😩 can i set quiet hours somewhere"),
    *_cases("profile-setup", "no_keyword",
            "there's just a blank circle next to my messages, how do i upload a headshot 😅",
            "where do i put my pronouns + bio so ppl know who i am on here"),
    # --- first-project ---
    *_cases("first-project", "plain",
            "how do i create a project? i don't see the option anywhere",
            "want to spin up a new project for our q3 launch, not sure where to start",
            "first time using this, how do i set up my first board"),
    *_cases("first-project", "paraphrase",
            "need a workspace for the acme rebrand client, how do i get one going",
            "can i use a template to kick off a campaign tracker for the marketing team?"),
    *_cases("first-project", "no_keyword",
            "signed up an hour ago and it's all blank 😬 where do i organize our bakery's "
            "wedding orders",
            "how do i spin up a kanban for the website redesign? nothing's here so far"),
    # --- invite-team ---
    *_cases("invite-team", "plain",
            "how do i invite people to our team? there's 6 of us",
            "can you add sarah@brightlabs.io as a teammate",
            "my coworker says the invitation never arrived, can i resend it"),
    *_cases("invite-team", "paraphrase",
            "need to give our new contractor access but view only, no editing",
            "how do i bring the rest of the dev team onto this workspace"),
    *_cases("invite-team", "no_keyword",
            "our new hire starts monday, how do i get her onboarded in here so she sees "
            "the channels",
            "can my intern jump in on this too? how would she join"),
    # --- generate-report ---
    *_cases("generate-report", "plain",
            "can you generate a signups report for last month",
            "need to export our sales numbers to csv for the board meeting thursday",
            "can i see ticket volume stats for this week"),
    *_cases("generate-report", "paraphrase",
            "my boss wants q2 revenue broken down by region, how do i pull that",
            "is there a way to get a weekly email w/ usage figures automatically"),
    *_cases("generate-report", "no_keyword",
            "how many accounts did we onboard in january vs february?",
            "i need a chart of churn over the last two quarters for the investor deck"),
    # --- connect-integration ---
    *_cases("connect-integration", "plain",
            "how do i connect our google calendar",
            "trying to integrate with hubspot, where's the integrations page",
            "the salesforce integration isn't syncing contacts anymore, do i need to "
            "reconnect it?"),
    *_cases("connect-integration", "paraphrase",
            "can we get new jira tickets posted into our #eng channel automatically",
            "where do i paste the api token for stripe"),
    *_cases("connect-integration", "no_keyword",
            "can this thing pull in our shopify orders automatically?",
            "is there a zapier hookup so typeform entries land here"),
    # --- take-message ---
    *_cases("take-message", "plain",
            "could you take a msg for jen in accounts, she's not picking up",
            "pls tell mark i called about the invoice, have him call me back on 0412 555 019",
            "can i leave the office manager a message? it's about the parking permits"),
    *_cases("take-message", "paraphrase",
            "is dr patel in today? if not can you pass along that my mri results came back",
            "our rep kevin is out of office, can u get a note to him that we need to move "
            "delivery to friday"),
    *_cases("take-message", "no_keyword",
            "is anna in? if she's out could she ring me on 07700 900123 when she's free, "
            "it's about the lease",
            "could u jot down that the plumber from harris & sons stopped by, he'll try tuesday"),
    # --- qualify-lead ---
    *_cases("qualify-lead", "plain",
            "hi, how much would it cost for a team of 40?",
            "we're evaluating a few tools for our support team, can you send a quote",
            "any discounts for nonprofits?"),
    *_cases("qualify-lead", "paraphrase",
            "thinking of moving our agency off asana, what would it run us for ~25 people "
            "per year?",
            "is there a free trial before we commit? need to show my cfo something first"),
    *_cases("qualify-lead", "no_keyword",
            "what would 60 seats set us back annually? we're a logistics firm in rotterdam",
            "shopping around to replace monday.com for our ops crew of ~30, what are the tiers"),
    # --- escalate-request ---
    *_cases("escalate-request", "plain",
            "can i talk to an actual human",
            "please escalate to someone who can actually fix it, it's urgent",
            "is there a real person i can speak with? not a bot"),
    *_cases("escalate-request", "paraphrase",
            "been answering the same questions for 20 min, just put me through to a supervisor",
            "ur bot isn't getting it. is there anyone on your staff i can chat with"),
    *_cases("escalate-request", "no_keyword",
            "can u put me thru to your supervisor",
            "waited 3 days with zero replies, i need a live operator NOW 😡"),
    # --- troubleshoot ---
    *_cases("troubleshoot", "plain",
            "dashboard page won't load, just spins forever",
            "app crashes every time i open the calendar view on android",
            "getting an error 500 when saving a task, can you help fix it"),
    *_cases("troubleshoot", "paraphrase",
            "clicking upload does absolutely nothing on safari, tried refreshing twice",
            "everything's super slow today, takes like 30 sec to open a ticket"),
    *_cases("troubleshoot", "no_keyword",
            "attachments i upload just vanish after a few minutes 🤔",
            "whenever i hit submit on the form it freezes and i have to kill the tab"),
    # --- reset-password ---
    *_cases("reset-password", "plain",
            "forgot my pw again 🙄 how do i reset it",
            "i'm locked out after too many login attempts",
            "the password reset email never came, already checked spam"),
    *_cases("reset-password", "paraphrase",
            "got a new phone and lost my authenticator, can't get past the 2fa screen",
            "my login isn't being accepted even though i'm typing it right"),
    *_cases("reset-password", "no_keyword",
            "what's the passcode recovery process, i blanked on mine",
            "my pw expired, how do i pick another one"),
    # --- book-meeting ---
    *_cases("book-meeting", "plain",
            "could i book time with someone from your onboarding team next week",
            "need to reschedule my call with david from tuesday to thursday",
            "can we get a call scheduled to go over the contract? 30 min is fine"),
    *_cases("book-meeting", "paraphrase",
            "what's jess's availability friday afternoon? want to grab 20 min with her",
            "any chance we could hop on a zoom call sometime this week to walk through onboarding"),
    *_cases("book-meeting", "no_keyword",
            "is thursday 2pm cet open for a quick sync with your account exec?",
            "can i grab half an hour with lena sometime next week"),
    # --- collect-feedback ---
    *_cases("collect-feedback", "plain",
            "got some feedback on the new editor",
            "can i put in a request for dark mode? 🙏 my eyes",
            "would be really nice to bulk edit tasks"),
    *_cases("collect-feedback", "paraphrase",
            "honestly the new nav is confusing, took me forever to find settings",
            "would love keyboard shortcuts for moving cards between columns, would be a big "
            "improvement"),
    *_cases("collect-feedback", "no_keyword",
            "y'all really need to bring back the old sidebar, the redesign is way worse",
            "pleeease let us pin comments, i'm begging 😭"),
    # --- none: small talk and off-topic ---
    *_cases(None, "none",
            "lmaooo 💀",
            "good morning everyone ☀️",
            "anyone want to grab lunch? thinking tacos",
            "who's watching the game tonight",
            "what's the weather like in lisbon this weekend",
            "thx that worked!!",
            "can you write me a limerick about tuesday standups",
            "happy friday team 🎉",
            "what's 15% of 2400",
            "anyone got a good podcast rec for the commute",
            "brb coffee",
            "congrats to maria on the promotion!!",
            "how do i cook rice without it getting mushy",
            # --- none: near a job's area, outside every template ---
            "why was i charged twice this month? i want a refund",
            "how do i permanently delete my account and all my data",
            "are you guys SOC 2 compliant? our security team is asking",
            "what are your support hours on weekends",
            "are you hiring? saw a backend role on linkedin",
            "where's your office located? want to send a package",
            "is my data stored in the EU? gdpr question",
            "how do i stop my subscription from auto-renewing",
            "can i get an invoice with our vat number on it"),
])
