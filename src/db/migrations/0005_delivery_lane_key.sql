DROP INDEX `event_deliveries_fresh_heads`;--> statement-breakpoint
DROP INDEX `event_deliveries_retry_heads`;--> statement-breakpoint
ALTER TABLE `event_deliveries` ADD `lane_key` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `event_deliveries_fresh_heads` ON `event_deliveries` (`endpoint_id`,`lane_key`,`id`,`next_attempt_at`) WHERE state = 'pending' AND head = 1 AND attempts = 0;--> statement-breakpoint
CREATE INDEX `event_deliveries_retry_heads` ON `event_deliveries` (`endpoint_id`,`lane_key`,`next_attempt_at`,`id`) WHERE state = 'pending' AND head = 1 AND attempts > 0;--> statement-breakpoint
-- Hand-written (issue 11 review). A pending status callback's lane is the API key that sent its message ('' when
-- that is not known).
UPDATE `event_deliveries` SET `lane_key` = COALESCE((
  SELECT `messages`.`created_by` FROM `events` JOIN `messages` ON `messages`.`id` = `events`.`message_id`
  WHERE `events`.`id` = `event_deliveries`.`event_id`
), '')
WHERE `endpoint_id` = 'status-callback' AND `state` = 'pending';
