//! Table definitions: the WordPress core schema (as `wp-admin/includes/schema.php`
//! creates it for a multisite) and the plugin tables the generator adds.
//!
//! Each definition is a body with a `{T}` placeholder for the quoted table name,
//! so the same text serves every site and table prefix.

/// Table options WordPress uses on a utf8mb4 server.
pub const CHARSET: &str = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci";

/// Per-site core tables, by suffix after the site's prefix (`wp_` or `wp_N_`).
pub const SITE_TABLES: &[&str] = &[
    "options",
    "posts",
    "postmeta",
    "comments",
    "commentmeta",
    "terms",
    "term_taxonomy",
    "term_relationships",
    "termmeta",
    "links",
];

/// `CREATE TABLE` for the table named `quoted` (already quoted) of kind `suffix`.
/// Returns `None` for a suffix that is not known.
pub fn create_sql(suffix: &str, quoted: &str) -> Option<String> {
    let body = match suffix {
        "blogs" => BLOGS,
        "blogmeta" => BLOGMETA,
        "site" => SITE,
        "sitemeta" => SITEMETA,
        "users" => USERS,
        "usermeta" => USERMETA,
        "signups" => SIGNUPS,
        "registration_log" => REGISTRATION_LOG,
        "options" => OPTIONS,
        "posts" => POSTS,
        "postmeta" => POSTMETA,
        "comments" => COMMENTS,
        "commentmeta" => COMMENTMETA,
        "terms" => TERMS,
        "term_taxonomy" => TERM_TAXONOMY,
        "term_relationships" => TERM_RELATIONSHIPS,
        "termmeta" => TERMMETA,
        "links" => LINKS,
        "gf_form" => GF_FORM,
        "gf_form_meta" => GF_FORM_META,
        "gf_entry" => GF_ENTRY,
        "gf_entry_meta" => GF_ENTRY_META,
        "wfhits" => WFHITS,
        "wfu_media_cache" => MEDIA_CACHE,
        "legacy_notes" => LEGACY_NOTES,
        "404_log" => LOG_404,
        "domain_mapping" => DOMAIN_MAPPING,
        _ => return None,
    };
    let charset = if suffix == "legacy_notes" {
        "ENGINE=InnoDB DEFAULT CHARSET=latin1"
    } else {
        CHARSET
    };
    Some(format!("CREATE TABLE {quoted} ({body}) {charset}"))
}

const BLOGS: &str = "
  blog_id bigint(20) NOT NULL auto_increment,
  site_id bigint(20) NOT NULL default '0',
  domain varchar(200) NOT NULL default '',
  path varchar(100) NOT NULL default '',
  registered datetime NOT NULL default '0000-00-00 00:00:00',
  last_updated datetime NOT NULL default '0000-00-00 00:00:00',
  public tinyint(2) NOT NULL default '1',
  archived tinyint(2) NOT NULL default '0',
  mature tinyint(2) NOT NULL default '0',
  spam tinyint(2) NOT NULL default '0',
  deleted tinyint(2) NOT NULL default '0',
  lang_id int(11) NOT NULL default '0',
  PRIMARY KEY (blog_id),
  KEY domain (domain(50),path(5)),
  KEY lang_id (lang_id)";

const BLOGMETA: &str = "
  meta_id bigint(20) unsigned NOT NULL auto_increment,
  blog_id bigint(20) NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY meta_key (meta_key(191)),
  KEY blog_id (blog_id)";

const SITE: &str = "
  id bigint(20) NOT NULL auto_increment,
  domain varchar(200) NOT NULL default '',
  path varchar(100) NOT NULL default '',
  PRIMARY KEY (id),
  KEY domain (domain(140),path(51))";

const SITEMETA: &str = "
  meta_id bigint(20) NOT NULL auto_increment,
  site_id bigint(20) NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY meta_key (meta_key(191)),
  KEY site_id (site_id)";

const USERS: &str = "
  ID bigint(20) unsigned NOT NULL auto_increment,
  user_login varchar(60) NOT NULL default '',
  user_pass varchar(255) NOT NULL default '',
  user_nicename varchar(50) NOT NULL default '',
  user_email varchar(100) NOT NULL default '',
  user_url varchar(100) NOT NULL default '',
  user_registered datetime NOT NULL default '0000-00-00 00:00:00',
  user_activation_key varchar(255) NOT NULL default '',
  user_status int(11) NOT NULL default '0',
  display_name varchar(250) NOT NULL default '',
  spam tinyint(2) NOT NULL default '0',
  deleted tinyint(2) NOT NULL default '0',
  PRIMARY KEY (ID),
  KEY user_login_key (user_login),
  KEY user_nicename (user_nicename),
  KEY user_email (user_email)";

const USERMETA: &str = "
  umeta_id bigint(20) unsigned NOT NULL auto_increment,
  user_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (umeta_id),
  KEY user_id (user_id),
  KEY meta_key (meta_key(191))";

const SIGNUPS: &str = "
  signup_id bigint(20) NOT NULL auto_increment,
  domain varchar(200) NOT NULL default '',
  path varchar(100) NOT NULL default '',
  title longtext NOT NULL,
  user_login varchar(60) NOT NULL default '',
  user_email varchar(100) NOT NULL default '',
  registered datetime NOT NULL default '0000-00-00 00:00:00',
  activated datetime NOT NULL default '0000-00-00 00:00:00',
  active tinyint(1) NOT NULL default '0',
  activation_key varchar(50) NOT NULL default '',
  meta longtext,
  PRIMARY KEY (signup_id),
  KEY activation_key (activation_key),
  KEY user_email (user_email),
  KEY user_login_email (user_login,user_email),
  KEY domain_path (domain(140),path(51))";

const REGISTRATION_LOG: &str = "
  ID bigint(20) NOT NULL auto_increment,
  email varchar(255) NOT NULL default '',
  IP varchar(30) NOT NULL default '',
  blog_id bigint(20) NOT NULL default '0',
  date_registered datetime NOT NULL default '0000-00-00 00:00:00',
  PRIMARY KEY (ID),
  KEY IP (IP)";

const OPTIONS: &str = "
  option_id bigint(20) unsigned NOT NULL auto_increment,
  option_name varchar(191) NOT NULL default '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL default 'yes',
  PRIMARY KEY (option_id),
  UNIQUE KEY option_name (option_name),
  KEY autoload (autoload)";

const POSTS: &str = "
  ID bigint(20) unsigned NOT NULL auto_increment,
  post_author bigint(20) unsigned NOT NULL default '0',
  post_date datetime NOT NULL default '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
  post_content longtext NOT NULL,
  post_title text NOT NULL,
  post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL default 'publish',
  comment_status varchar(20) NOT NULL default 'open',
  ping_status varchar(20) NOT NULL default 'open',
  post_password varchar(255) NOT NULL default '',
  post_name varchar(200) NOT NULL default '',
  to_ping text NOT NULL,
  pinged text NOT NULL,
  post_modified datetime NOT NULL default '0000-00-00 00:00:00',
  post_modified_gmt datetime NOT NULL default '0000-00-00 00:00:00',
  post_content_filtered longtext NOT NULL,
  post_parent bigint(20) unsigned NOT NULL default '0',
  guid varchar(255) NOT NULL default '',
  menu_order int(11) NOT NULL default '0',
  post_type varchar(20) NOT NULL default 'post',
  post_mime_type varchar(100) NOT NULL default '',
  comment_count bigint(20) NOT NULL default '0',
  PRIMARY KEY (ID),
  KEY post_name (post_name(191)),
  KEY type_status_date (post_type,post_status,post_date,ID),
  KEY post_parent (post_parent),
  KEY post_author (post_author)";

const POSTMETA: &str = "
  meta_id bigint(20) unsigned NOT NULL auto_increment,
  post_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY post_id (post_id),
  KEY meta_key (meta_key(191))";

const COMMENTS: &str = "
  comment_ID bigint(20) unsigned NOT NULL auto_increment,
  comment_post_ID bigint(20) unsigned NOT NULL default '0',
  comment_author tinytext NOT NULL,
  comment_author_email varchar(100) NOT NULL default '',
  comment_author_url varchar(200) NOT NULL default '',
  comment_author_IP varchar(100) NOT NULL default '',
  comment_date datetime NOT NULL default '0000-00-00 00:00:00',
  comment_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
  comment_content text NOT NULL,
  comment_karma int(11) NOT NULL default '0',
  comment_approved varchar(20) NOT NULL default '1',
  comment_agent varchar(255) NOT NULL default '',
  comment_type varchar(20) NOT NULL default 'comment',
  comment_parent bigint(20) unsigned NOT NULL default '0',
  user_id bigint(20) unsigned NOT NULL default '0',
  PRIMARY KEY (comment_ID),
  KEY comment_post_ID (comment_post_ID),
  KEY comment_approved_date_gmt (comment_approved,comment_date_gmt),
  KEY comment_date_gmt (comment_date_gmt),
  KEY comment_parent (comment_parent),
  KEY comment_author_email (comment_author_email(10))";

const COMMENTMETA: &str = "
  meta_id bigint(20) unsigned NOT NULL auto_increment,
  comment_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY comment_id (comment_id),
  KEY meta_key (meta_key(191))";

const TERMS: &str = "
  term_id bigint(20) unsigned NOT NULL auto_increment,
  name varchar(200) NOT NULL default '',
  slug varchar(200) NOT NULL default '',
  term_group bigint(10) NOT NULL default 0,
  PRIMARY KEY (term_id),
  KEY slug (slug(191)),
  KEY name (name(191))";

const TERM_TAXONOMY: &str = "
  term_taxonomy_id bigint(20) unsigned NOT NULL auto_increment,
  term_id bigint(20) unsigned NOT NULL default 0,
  taxonomy varchar(32) NOT NULL default '',
  description longtext NOT NULL,
  parent bigint(20) unsigned NOT NULL default 0,
  count bigint(20) NOT NULL default 0,
  PRIMARY KEY (term_taxonomy_id),
  UNIQUE KEY term_id_taxonomy (term_id,taxonomy),
  KEY taxonomy (taxonomy)";

const TERM_RELATIONSHIPS: &str = "
  object_id bigint(20) unsigned NOT NULL default 0,
  term_taxonomy_id bigint(20) unsigned NOT NULL default 0,
  term_order int(11) NOT NULL default 0,
  PRIMARY KEY (object_id,term_taxonomy_id),
  KEY term_taxonomy_id (term_taxonomy_id)";

const TERMMETA: &str = "
  meta_id bigint(20) unsigned NOT NULL auto_increment,
  term_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY term_id (term_id),
  KEY meta_key (meta_key(191))";

const LINKS: &str = "
  link_id bigint(20) unsigned NOT NULL auto_increment,
  link_url varchar(255) NOT NULL default '',
  link_name varchar(255) NOT NULL default '',
  link_image varchar(255) NOT NULL default '',
  link_target varchar(25) NOT NULL default '',
  link_description varchar(255) NOT NULL default '',
  link_visible varchar(20) NOT NULL default 'Y',
  link_owner bigint(20) unsigned NOT NULL default '1',
  link_rating int(11) NOT NULL default '0',
  link_updated datetime NOT NULL default '0000-00-00 00:00:00',
  link_rel varchar(255) NOT NULL default '',
  link_notes mediumtext NOT NULL,
  link_rss varchar(255) NOT NULL default '',
  PRIMARY KEY (link_id),
  KEY link_visible (link_visible)";

// Gravity Forms 2.x.
const GF_FORM: &str = "
  id mediumint(10) unsigned NOT NULL auto_increment,
  title varchar(150) NOT NULL,
  date_created datetime NOT NULL,
  date_updated datetime DEFAULT NULL,
  is_active tinyint(10) NOT NULL default 1,
  is_trash tinyint(10) NOT NULL default 0,
  PRIMARY KEY (id)";

// A real JSON column (MariaDB: LONGTEXT with a json_valid check) next to the
// plugin's own JSON-in-longtext columns.
const GF_FORM_META: &str = "
  form_id mediumint(10) unsigned NOT NULL,
  display_meta longtext,
  entries_grid_meta longtext,
  confirmations longtext,
  notifications longtext,
  settings JSON DEFAULT NULL,
  PRIMARY KEY (form_id)";

// Form submissions (with `NetworkOptions::personal_data`): who sent what, from where.
const GF_ENTRY: &str = "
  id int(10) unsigned NOT NULL auto_increment,
  form_id mediumint(10) unsigned NOT NULL,
  date_created datetime NOT NULL,
  ip varchar(45) NOT NULL,
  source_url varchar(200) NOT NULL default '',
  user_agent varchar(250) NOT NULL default '',
  created_by bigint(20) unsigned DEFAULT NULL,
  PRIMARY KEY (id),
  KEY form_id (form_id)";

const GF_ENTRY_META: &str = "
  id bigint(20) unsigned NOT NULL auto_increment,
  form_id mediumint(10) unsigned NOT NULL default '0',
  entry_id bigint(10) unsigned NOT NULL,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (id),
  KEY entry_id (entry_id)";

// A security plugin's request log (with `NetworkOptions::log_rows`): bulk
// that a lower environment does not need.
const WFHITS: &str = "
  id int(10) unsigned NOT NULL auto_increment,
  ctime double(17,6) unsigned NOT NULL,
  IP binary(16) DEFAULT NULL,
  statusCode int(11) NOT NULL default '200',
  URL text,
  referer text,
  UA text,
  PRIMARY KEY (id),
  KEY k1 (ctime)";

// Binary columns whose bytes must pass through a migration untouched, even
// where they happen to contain a domain name.
const MEDIA_CACHE: &str = "
  id bigint(20) unsigned NOT NULL auto_increment,
  url varchar(2048) NOT NULL default '',
  hash binary(16) NOT NULL,
  thumb mediumblob,
  extra varbinary(255) DEFAULT NULL,
  PRIMARY KEY (id)";

// A legacy latin1 table: its text is not UTF-8 on the wire unless converted.
const LEGACY_NOTES: &str = "
  id int(11) NOT NULL auto_increment,
  note text NOT NULL,
  url varchar(255) NOT NULL default '',
  PRIMARY KEY (id)";

// A redirection-plugin log on the main site: ENUM and SET columns must not be rewritten.
const LOG_404: &str = "
  id bigint(20) unsigned NOT NULL auto_increment,
  url varchar(2048) NOT NULL,
  referrer varchar(2048) DEFAULT NULL,
  hits int(11) unsigned NOT NULL default 1,
  user_agent varchar(512) DEFAULT NULL,
  last_seen datetime NOT NULL,
  status enum('open','redirected','ignored') NOT NULL default 'open',
  flags set('bot','mobile','https') NOT NULL default '',
  PRIMARY KEY (id)";

/// The WPMU Domain Mapping plugin's table (Mercator reads the same layout).
const DOMAIN_MAPPING: &str = "\
  id bigint(20) NOT NULL auto_increment,
  blog_id bigint(20) NOT NULL,
  domain varchar(255) NOT NULL,
  active tinyint(4) default '1',
  PRIMARY KEY  (id),
  KEY blog_id (blog_id,domain,active)";
