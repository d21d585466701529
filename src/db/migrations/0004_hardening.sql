CREATE TABLE `write_probe` (
	`id` integer PRIMARY KEY NOT NULL,
	`filler` blob NOT NULL
);
--> statement-breakpoint
ALTER TABLE `message_events` ADD `provider_time` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `created_by` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `redacted_at` integer;--> statement-breakpoint
CREATE INDEX `idempotency_keys_message` ON `idempotency_keys` (`message_id`);