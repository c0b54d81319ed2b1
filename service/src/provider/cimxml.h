/* cimxml: reads one CIM instance written in DMTF CIM-XML (DSP0201), the way
 * WMI hands over an embedded instance that a method declares as a string:
 *   <INSTANCE CLASSNAME="Msvm_CollectionReplicationStatistics">
 *     <PROPERTY NAME="ReplicationHealth" TYPE="uint32"><VALUE>1</VALUE></PROPERTY>
 *     <PROPERTY NAME="LastWALReplicationTime" TYPE="datetime"><VALUE>2026...</VALUE></PROPERTY>
 *   </INSTANCE>
 * (GetReplicationStatistics' ReplicationStatistics is "an embedded instance
 * of Msvm_CollectionReplicationStatistics", Microsoft's page for the method;
 * Hyper-V's string embedded instances are this XML, read by Microsoft's own
 * scripts as /INSTANCE/PROPERTY with NAME and VALUE.)
 *
 * Only what siteguard reads: the instance's class name and the text of a
 * scalar property (PROPERTY, not PROPERTY.ARRAY or PROPERTY.REFERENCE),
 * XML entities (&lt; &gt; &amp; &quot; &apos; &#N; &#xN;) decoded. Names of
 * classes and properties compare without regard to case, as CIM's do. Text
 * that is not such XML is refused (SG_EPROTO), never guessed at: the caller
 * then treats the values as unknown.
 *
 * Pure functions; ownership: each returned string is the caller's to free. */
#ifndef SG_PROVIDER_CIMXML_H
#define SG_PROVIDER_CIMXML_H

/* The CLASSNAME of the first INSTANCE element of `xml` in *name (NULL unless
 * 0 is returned). Returns 0, SG_EPROTO (no INSTANCE with a CLASSNAME that is
 * not empty) or SG_ENOMEM. */
int sg_cimxml_class(const char *xml, char **name);

/* The VALUE of the scalar property `name` of the instance in *value, or NULL
 * when the property is there without a value (NULL in CIM). Returns 0,
 * SG_ENOTFOUND (no such property), SG_EPROTO (the text is not CIM-XML this
 * reads: no INSTANCE, a property or value not closed, an unknown entity) or
 * SG_ENOMEM. */
int sg_cimxml_property(const char *xml, const char *name, char **value);

#endif
