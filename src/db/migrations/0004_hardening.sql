ALTER TABLE `message_events` ADD `provider_time` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `created_by` text;