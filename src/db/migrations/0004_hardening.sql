CREATE TABLE `write_probe` (
	`id` integer PRIMARY KEY NOT NULL,
	`filler` blob NOT NULL
);
--> statement-breakpoint
ALTER TABLE `message_events` ADD `provider_time` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `created_by` text;