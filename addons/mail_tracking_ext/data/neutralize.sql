-- A copy of the database (staging, a restored backup) neither answers the tracking links of
-- production's emails nor tracks or logs mail itself (SPEC R9):
-- * the copies' tokens and the emails' link maps are forgotten: a pixel answers its GIF and
--   records nothing, a link shows that it expired, an opt-out link leads nowhere;
UPDATE mail_tracked_recipient
   SET token_digest = NULL
 WHERE token_digest IS NOT NULL;
UPDATE mail_message
   SET tracked_links = NULL
 WHERE tracked_links IS NOT NULL;
-- * nothing sent from the copy is tracked, nothing that reaches it is logged.
UPDATE res_company
   SET mail_tracking_allowed = false,
       mail_logging_trusted_servers = NULL;
