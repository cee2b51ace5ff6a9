#!/usr/bin/env bash
# Reference implementations and real version lists for the vuln crate's Maven, RubyGems and Composer differential
# tests (idempotent; installs only what is missing, caches under ~/.cache/portcullis):
#  - Maven's own ComparableVersion: the maven-artifact jar resolved by mvn from Maven Central, run by a JDK
#    (single-file source launch of crates/vuln/tests/oracles/MavenCompare.java);
#  - Gem::Version: Debian's ruby;
#  - composer/semver's VersionParser + Comparator: Debian's php-cli + php-composer-semver;
#  - Maven Central version lists (maven-metadata.xml) of popular artifacts into ~/.cache/portcullis/versions/maven.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have javac || need+=(default-jdk-headless)
have mvn || need+=(maven)
have ruby || need+=(ruby)
have php || need+=(php-cli)
[ -f /usr/share/php/Composer/Semver/autoload.php ] || need+=(php-composer-semver)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"
fi
cache="$HOME/.cache/portcullis"
m2="$cache/m2"
get() { mvn -q -B -Dmaven.repo.local="$m2" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get -Dtransitive=false -Dartifact="$1"; }
ma_version=3.9.9
jar="$cache/maven-artifact/maven-artifact-$ma_version.jar"
if [ ! -s "$jar" ]; then
  get "org.apache.maven:maven-artifact:$ma_version"
  mkdir -p "$(dirname "$jar")"
  cp "$m2/org/apache/maven/maven-artifact/$ma_version/maven-artifact-$ma_version.jar" "$jar.tmp" && mv "$jar.tmp" "$jar"
fi
vdir="$cache/versions/maven"
mkdir -p "$vdir"
artifacts="org.springframework:spring-core com.fasterxml.jackson.core:jackson-databind
 org.apache.logging.log4j:log4j-core com.google.guava:guava org.apache.commons:commons-lang3 commons-io:commons-io
 io.netty:netty-all org.hibernate:hibernate-core org.apache.tomcat.embed:tomcat-embed-core
 org.eclipse.jetty:jetty-server org.slf4j:slf4j-api ch.qos.logback:logback-classic org.apache.struts:struts2-core
 org.yaml:snakeyaml junit:junit org.junit.jupiter:junit-jupiter-api org.apache.maven:maven-core
 io.micronaut:micronaut-core org.apache.kafka:kafka-clients com.squareup.okhttp3:okhttp org.mockito:mockito-core
 org.postgresql:postgresql mysql:mysql-connector-java org.apache.httpcomponents:httpclient io.undertow:undertow-core
 org.keycloak:keycloak-core org.springframework.security:spring-security-core org.codehaus.groovy:groovy
 org.scala-lang:scala-library org.jetbrains.kotlin:kotlin-stdlib org.bouncycastle:bcprov-jdk15on
 org.apache.activemq:activemq-client"
for ga in $artifacts; do
  g="${ga%%:*}" a="${ga##*:}"
  f="$vdir/$g:$a.txt"
  [ -s "$f" ] && continue
  meta="$m2/${g//.//}/$a/maven-metadata-central.xml"
  get "$ga:LATEST:pom" >/dev/null 2>&1 || true
  if [ -s "$meta" ]; then
    sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$meta" > "$f.tmp" && mv "$f.tmp" "$f"
  else
    echo "warning: could not fetch the Maven Central versions of $ga" >&2
  fi
done
