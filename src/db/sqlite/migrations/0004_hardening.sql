-- Hand-written (issue 11): WITHOUT ROWID on webhook_signatures (drizzle cannot declare it), one B-tree keyed by the digest.
CREATE TABLE `webhook_signatures` (
	`digest` blob PRIMARY KEY NOT NULL,
	`received_at` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `webhook_signatures_received` ON `webhook_signatures` (`received_at`,`digest`);--> statement-breakpoint
CREATE TABLE `write_probe` (
	`id` integer PRIMARY KEY NOT NULL,
	`filler` blob NOT NULL
);
--> statement-breakpoint
DROP INDEX `event_deliveries_pending`;--> statement-breakpoint
ALTER TABLE `event_deliveries` ADD `head` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `event_deliveries` ADD `lane_key` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `event_deliveries_conversation` ON `event_deliveries` (`endpoint_id`,`conversation`,`id`) WHERE state = 'pending';--> statement-breakpoint
CREATE INDEX `event_deliveries_fresh_heads` ON `event_deliveries` (`endpoint_id`,`lane_key`,`id`,`next_attempt_at`) WHERE state = 'pending' AND head = 1 AND attempts = 0;--> statement-breakpoint
CREATE INDEX `event_deliveries_retry_heads` ON `event_deliveries` (`endpoint_id`,`lane_key`,`next_attempt_at`,`id`) WHERE state = 'pending' AND head = 1 AND attempts > 0;--> statement-breakpoint
ALTER TABLE `message_events` ADD `provider_time` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `created_by` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `redacted_at` integer;--> statement-breakpoint
CREATE INDEX `idempotency_keys_message` ON `idempotency_keys` (`message_id`);--> statement-breakpoint
-- Hand-written (issue 11). A message's own callbacks are ordered per message, not per phone number.
UPDATE `event_deliveries` SET `conversation` = (SELECT `message_id` FROM `events` WHERE `events`.`id` = `event_deliveries`.`event_id`)
WHERE `endpoint_id` = 'status-callback' AND `state` = 'pending';--> statement-breakpoint
-- The first pending delivery of each (endpoint, conversation) is its head.
UPDATE `event_deliveries` SET `head` = 1 WHERE `id` IN (
  SELECT MIN(`id`) FROM `event_deliveries` WHERE `state` = 'pending' GROUP BY `endpoint_id`, `conversation`
);--> statement-breakpoint
-- A pending head deleted (a message folded into another, or removed) hands its place to the next in line, whatever
-- the delete (cascades included); otherwise that conversation would wait forever.
CREATE TRIGGER `event_deliveries_head_deleted` AFTER DELETE ON `event_deliveries`
WHEN OLD.`state` = 'pending' AND OLD.`head` = 1
BEGIN
  UPDATE `event_deliveries` SET `head` = 1 WHERE `id` = (
    SELECT `id` FROM `event_deliveries`
    WHERE `state` = 'pending' AND `endpoint_id` = OLD.`endpoint_id` AND `conversation` = OLD.`conversation`
    ORDER BY `id` LIMIT 1
  );
END;
