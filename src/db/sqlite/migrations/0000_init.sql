CREATE TABLE `message_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`provider` text NOT NULL,
	`status` text,
	`provider_status` text NOT NULL,
	`recipient` text,
	`error_code` text,
	`error_message` text,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_events_dedupe_key` ON `message_events` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `message_events_message` ON `message_events` (`message_id`);--> statement-breakpoint
CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`provider_message_id` text,
	`direction` text NOT NULL,
	`channel` text NOT NULL,
	`from_number` text NOT NULL,
	`to_number` text NOT NULL,
	`cc` text DEFAULT '[]' NOT NULL,
	`body` text NOT NULL,
	`media` text DEFAULT '[]' NOT NULL,
	`status` text NOT NULL,
	`provider_status` text,
	`segments` integer,
	`encoding` text,
	`error_code` text,
	`error_message` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_provider_message_id` ON `messages` (`provider`,`provider_message_id`);--> statement-breakpoint
CREATE INDEX `messages_created_at` ON `messages` (`created_at`);--> statement-breakpoint
CREATE INDEX `messages_from` ON `messages` (`from_number`);--> statement-breakpoint
CREATE INDEX `messages_to` ON `messages` (`to_number`);--> statement-breakpoint
CREATE INDEX `messages_status` ON `messages` (`status`);--> statement-breakpoint
CREATE TABLE `opt_outs` (
	`phone` text NOT NULL,
	`our_number` text NOT NULL,
	`provider` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`phone`, `our_number`)
);
