/*
 * TagoTiP's MQTT binding rules around mosquitto (TagoTipServers §3, docs/tagotip/transports/mqtt),
 * for the embedded target's `--tagotip-mqtt-broker mosquitto`: what TagoIO's broker does that
 * mosquitto does not, kept here so every frame still goes to the target's one TagoTiP service
 * (tagocheck/server/tagotip_mosquitto.py, "the bridge", a client of this broker).
 *
 * - CONNECT: the username and password are the Authorization Hash's halves (§3.1), refused
 *   otherwise; past the plan's connections per IP or per profile the CONNECT is refused too.
 * - A device may publish to `$tip/` and `$tips/` topics and subscribe to their ack topics; its
 *   PUBLISH to a push or pull topic goes to the bridge alone, as `$tagocheck/in/{hash}/{topic}`.
 * - TTL and idle: past the plan's TTL after CONNECT, or the idle timeout after its last PUBLISH
 *   or SUBSCRIBE, the bridge is told on `$tagocheck/expire/{client id}` (the reason, then the
 *   connection's ack topics, one a line); it sends the notice on them and asks for the close on
 *   `$tagocheck/close/{client id}`. mosquitto shows a plugin no PINGREQ, so here a device that
 *   only pings is idle [a deviation of this broker's, stated in the README].
 *
 * Options (plugin_opt_*): auth_hash, any_auth (1: any credentials, the any-authorization
 * fault), bridge_user, bridge_password, per_ip, per_profile, ttl_ms and idle_ms (0: none).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_ACKS 64

struct device {
	struct mosquitto *client;
	char *client_id;
	char *address;
	long long connected_ms;
	long long active_ms;
	char *acks[MAX_ACKS];
	int ack_count;
	bool expiring;
	struct device *next;
};

struct address_count {
	char *address;
	int count;
	struct address_count *next;
};

static mosquitto_plugin_id_t *plugin_id;
static char auth_hash[33];
static bool any_auth;
static char *bridge_user, *bridge_password;
static int per_ip = 1 << 30, per_profile = 1 << 30;
static long long ttl_ms, idle_ms;
static struct device *devices;
static struct address_count *addresses;
static int connected;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_bridge(struct mosquitto *client)
{
	const char *user = mosquitto_client_username(client);
	return user != NULL && bridge_user != NULL && strcmp(user, bridge_user) == 0;
}

static struct device *device_of(struct mosquitto *client)
{
	for (struct device *d = devices; d != NULL; d = d->next) {
		if (d->client == client) return d;
	}
	return NULL;
}

static struct address_count *count_of(const char *address)
{
	for (struct address_count *a = addresses; a != NULL; a = a->next) {
		if (strcmp(a->address, address) == 0) return a;
	}
	struct address_count *a = calloc(1, sizeof(*a));
	a->address = strdup(address);
	a->next = addresses;
	addresses = a;
	return a;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	(void)event;
	(void)userdata;
	if (ed->username != NULL && bridge_user != NULL && strcmp(ed->username, bridge_user) == 0) {
		bool ok = ed->password != NULL && strcmp(ed->password, bridge_password) == 0;
		return ok ? MOSQ_ERR_SUCCESS : MOSQ_ERR_AUTH;
	}
	char given[80];
	snprintf(given, sizeof(given), "%s%s", ed->username ? ed->username : "",
			 ed->password ? ed->password : "");
	if (!any_auth && strcasecmp(given, auth_hash) != 0) return MOSQ_ERR_AUTH;
	const char *address = mosquitto_client_address(ed->client);
	struct address_count *same_ip = count_of(address ? address : "");
	if (same_ip->count >= per_ip || connected >= per_profile) return MOSQ_ERR_AUTH;
	struct device *d = device_of(ed->client);
	if (d == NULL) {  /* counted from here until its DISCONNECT */
		d = calloc(1, sizeof(*d));
		d->client = ed->client;
		d->next = devices;
		devices = d;
		same_ip->count++;
		connected++;
	}
	free(d->client_id);
	free(d->address);
	d->client_id = strdup(mosquitto_client_id(ed->client));
	d->address = strdup(address ? address : "");
	d->connected_ms = d->active_ms = now_ms();
	return MOSQ_ERR_SUCCESS;
}

/* `$tip/{serial}/{verb}` or `$tips/...`: three levels, the first one of the two prefixes. */
static bool is_tip_topic(const char *topic, const char *verb)
{
	const char *rest;
	if (strncmp(topic, "$tip/", 5) == 0) rest = topic + 5;
	else if (strncmp(topic, "$tips/", 6) == 0) rest = topic + 6;
	else return false;
	const char *slash = strchr(rest, '/');
	if (slash == NULL || slash == rest) return false;
	if (verb == NULL) return strchr(slash + 1, '/') == NULL;
	return strcmp(slash + 1, verb) == 0;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	(void)event;
	(void)userdata;
	if (is_bridge(ed->client)) return MOSQ_ERR_SUCCESS;
	if (strncmp(ed->topic, "$tagocheck/", 11) == 0) return MOSQ_ERR_ACL_DENIED;
	struct device *d = device_of(ed->client);
	if (d != NULL && ed->access != MOSQ_ACL_READ) d->active_ms = now_ms();
	if (d != NULL && ed->access == MOSQ_ACL_SUBSCRIBE && is_tip_topic(ed->topic, "ack")
		&& d->ack_count < MAX_ACKS) {
		for (int i = 0; i < d->ack_count; i++) {
			if (strcmp(d->acks[i], ed->topic) == 0) return MOSQ_ERR_SUCCESS;
		}
		d->acks[d->ack_count++] = strdup(ed->topic);
	}
	return MOSQ_ERR_SUCCESS;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	(void)event;
	(void)userdata;
	if (is_bridge(ed->client)) {
		if (strncmp(ed->topic, "$tagocheck/close/", 17) == 0) {
			mosquitto_kick_client_by_clientid(ed->topic + 17, false);
		}
		return MOSQ_ERR_SUCCESS;
	}
	if (!is_tip_topic(ed->topic, "push") && !is_tip_topic(ed->topic, "pull")) {
		return MOSQ_ERR_SUCCESS;
	}
	size_t size = strlen(ed->topic) + 64;
	char *routed = mosquitto_malloc(size);
	if (routed == NULL) return MOSQ_ERR_NOMEM;
	snprintf(routed, size, "$tagocheck/in/%s/%s", any_auth ? "any" : auth_hash, ed->topic);
	mosquitto_free(ed->topic);
	ed->topic = routed;
	return MOSQ_ERR_SUCCESS;
}

static void expire(struct device *d, const char *why)
{
	size_t size = strlen(why) + 2;
	for (int i = 0; i < d->ack_count; i++) size += strlen(d->acks[i]) + 1;
	char *payload = malloc(size);
	char *at = payload + sprintf(payload, "%s", why);
	for (int i = 0; i < d->ack_count; i++) at += sprintf(at, "\n%s", d->acks[i]);
	char topic[512];
	snprintf(topic, sizeof(topic), "$tagocheck/expire/%s", d->client_id);
	mosquitto_broker_publish_copy(NULL, topic, (int)strlen(payload), payload, 0, false, NULL);
	free(payload);
	d->expiring = true;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_tick *ed = event_data;
	(void)event;
	(void)userdata;
	long long now = now_ms();
	for (struct device *d = devices; d != NULL; d = d->next) {
		if (d->expiring || d->client_id == NULL) continue;
		if (ttl_ms > 0 && now - d->connected_ms >= ttl_ms) expire(d, "ERR|ttl_expired");
		else if (idle_ms > 0 && now - d->active_ms >= idle_ms) expire(d, "ERR|keep_alive_timeout");
	}
	ed->next_s = 0;
	ed->next_ns = 0;
	return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	(void)event;
	(void)userdata;
	for (struct device **link = &devices; *link != NULL; link = &(*link)->next) {
		struct device *d = *link;
		if (d->client != ed->client) continue;
		*link = d->next;
		count_of(d->address)->count--;
		connected--;
		for (int i = 0; i < d->ack_count; i++) free(d->acks[i]);
		free(d->client_id);
		free(d->address);
		free(d);
		break;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data,
						  struct mosquitto_opt *opts, int opt_count)
{
	(void)user_data;
	plugin_id = identifier;
	for (int i = 0; i < opt_count; i++) {
		const char *key = opts[i].key, *value = opts[i].value;
		if (strcmp(key, "auth_hash") == 0) snprintf(auth_hash, sizeof(auth_hash), "%s", value);
		else if (strcmp(key, "any_auth") == 0) any_auth = strcmp(value, "1") == 0;
		else if (strcmp(key, "bridge_user") == 0) bridge_user = strdup(value);
		else if (strcmp(key, "bridge_password") == 0) bridge_password = strdup(value);
		else if (strcmp(key, "per_ip") == 0) per_ip = atoi(value);
		else if (strcmp(key, "per_profile") == 0) per_profile = atoi(value);
		else if (strcmp(key, "ttl_ms") == 0) ttl_ms = atoll(value);
		else if (strcmp(key, "idle_ms") == 0) idle_ms = atoll(value);
	}
	if (bridge_user == NULL || bridge_password == NULL) return MOSQ_ERR_INVAL;
	int events[] = {MOSQ_EVT_BASIC_AUTH, MOSQ_EVT_ACL_CHECK, MOSQ_EVT_MESSAGE, MOSQ_EVT_TICK,
					MOSQ_EVT_DISCONNECT};
	MOSQ_FUNC_generic_callback calls[] = {on_basic_auth, on_acl_check, on_message, on_tick,
										  on_disconnect};
	for (int i = 0; i < 5; i++) {
		int rc = mosquitto_callback_register(plugin_id, events[i], calls[i], NULL, NULL);
		if (rc != MOSQ_ERR_SUCCESS) return rc;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
	(void)user_data;
	(void)opts;
	(void)opt_count;
	int events[] = {MOSQ_EVT_BASIC_AUTH, MOSQ_EVT_ACL_CHECK, MOSQ_EVT_MESSAGE, MOSQ_EVT_TICK,
					MOSQ_EVT_DISCONNECT};
	MOSQ_FUNC_generic_callback calls[] = {on_basic_auth, on_acl_check, on_message, on_tick,
										  on_disconnect};
	for (int i = 0; i < 5; i++) mosquitto_callback_unregister(plugin_id, events[i], calls[i], NULL);
	return MOSQ_ERR_SUCCESS;
}
