ALTER TABLE `messages` ADD `redacted_at` integer;--> statement-breakpoint
CREATE INDEX `idempotency_keys_message` ON `idempotency_keys` (`message_id`);